from .cli import main

if __name__ == "__main__":  # not again in a spawned child (the parsing process)
    main()
