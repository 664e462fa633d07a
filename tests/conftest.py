# The fixtures every test here uses, opt-in as for any project that tests against catalyst_hub.
pytest_plugins = ["catalyst_hub.pytest_plugin"]
