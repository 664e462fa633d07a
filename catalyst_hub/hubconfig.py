"""The example configuration an operator starts from, shipped inside the package.

``jupyter_config/`` of the source tree is installed as ``catalyst_hub/jupyter_config/``:
``jupyterhub_config.py`` (the service, custom scopes, roles, server token scopes),
``catalyst_config.py`` (the service's own settings), ``z2jh-values.yaml`` (Zero to JupyterHub),
``grafana-dashboard.json`` and the hub's page ``templates/``. A hub's own
``jupyterhub_config.py`` can load ours as it is::

    from catalyst_hub.hubconfig import config_path

    load_subconfig(str(config_path("jupyterhub_config.py")))

or ``catalyst-hub config --output=DIR`` writes copies to edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: What ``catalyst-hub config`` writes: the files an operator edits (templates are a folder).
EXAMPLE_FILES = (
    "jupyterhub_config.py",
    "catalyst_config.py",
    "z2jh-values.yaml",
    "grafana-dashboard.json",
    "templates",
)


def config_dir() -> Path:
    """The folder of the example configuration: in the installed package, or in a source
    checkout (an editable install) the repository's ``jupyter_config``."""
    here = Path(__file__).resolve().parent
    for folder in (here / "jupyter_config", here.parent / "jupyter_config"):
        if (folder / "jupyterhub_config.py").is_file():
            return folder
    raise FileNotFoundError(
        f"catalyst_hub's example configuration is missing from {here}: reinstall catalyst-hub"
    )


def config_path(name: str) -> Path:
    """The path of one example file (``jupyterhub_config.py``, ``catalyst_config.py``...)."""
    path = config_dir() / name
    if not path.exists():
        known = ", ".join(EXAMPLE_FILES)
        raise FileNotFoundError(f"no example configuration file {name!r}; known: {known}")
    return path


#: The hub home page's "Getting started" button and sentence (``templates/home.html``).
HOME_PAGE_MESSAGES = {
    "button": "Getting started",
    "sentence": "Your onboarding checklist and training progress, for JupyterLab and RStudio alike.",
}


def home_page_messages() -> dict[str, dict[str, str]]:
    """The home page's messages in every language, for ``c.JupyterHub.template_vars``: the
    hub renders its pages without the request's languages, so the page picks one from the
    browser's (``navigator.languages``), as the service's pages do from Accept-Language."""
    from .i18n import LANGUAGES, gettext_for

    return {
        language: {key: gettext_for(language)(text) for key, text in HOME_PAGE_MESSAGES.items()}
        for language in LANGUAGES
    }


def write_examples(folder: str | Path, overwrite: bool = False) -> list[Path]:
    """Copy the example files into ``folder``; returns what was written. An existing file is
    kept unless ``overwrite`` (an operator's edits are not lost to a second run)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in EXAMPLE_FILES:
        source, target = config_path(name), folder / name
        if target.exists() and not overwrite:
            continue
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
        written.append(target)
    return written
