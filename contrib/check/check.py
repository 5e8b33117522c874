#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Check that the software a Carpentries workshop (Software, Data or Library Carpentry) needs is installed.

Run it with the Python you will use during the workshop:

    python check.py              check everything, then offer to send the results
    python check.py git make     re-test only these checks
    python check.py --forget     delete what you sent from the server
    python check.py --help       all the options

For every tool it prints a pass/fail line, and for every failure what was
found and how to fix it.  It exits with 1 when a required check failed and 0
otherwise.  Only with your consent (it shows exactly what it would send and
asks first) it sends the results to the workshop's result-aggregation-server,
so the instructors can help you before the workshop starts.

It needs Python 3.6 or newer and nothing but the standard library.
"""

# Python 2 cannot parse the line below and shows it as its SyntaxError, so this is what a
# learner who typed "python" on an old Mac reads (Python 3.6 and newer just assign it):
NEEDS_PYTHON_3 = f"check.py needs Python 3 (3.6 or newer): run it with python3 (on Windows: py)"

import argparse
import collections
import functools
import glob
import http.client
import io
import json
import locale
import os
import platform
import plistlib
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# The server that serves this script rewrites the lines between the two
# marker lines below (one variable per line, JSON-encoded values).
# BEGIN SERVER SETTINGS
SERVER_URL = "http://127.0.0.1:8080"
WORKSHOP_ID = None
CHECKS = None
# END SERVER SETTINGS

# The checks, their default minimum versions, the fixes printed for a failure and the
# workshop presets, as JSON between the two marker lines below. The server that serves this
# script reads the same block (src/catalog.rs), so its list of check names, the fix texts on a
# host's page and the presets of `workshop create --curriculum` are this script's own.
# "{python}" stands for the interpreter running the script (in a fix: typed as the learner's
# shell wants it); in "paths", "{prefix}" is that interpreter's sys.prefix, "~" the home
# folder, %NAME% a Windows environment variable (%ProgramFiles% also tries the 64-bit and
# the x86 folders) and "*" any name. Each "url" is the check's own section of the workshop
# template's install instructions; the few tools without one link the lesson that uses them.
# BEGIN CHECK CATALOG
CATALOG = json.loads(r"""
{
  "default_checks": ["shell", "editor", "git", "python", "package-manager", "jupyter",
                     "numpy", "pandas", "matplotlib", "sqlite3", "python-sqlite3", "make?"],
  "install_instructions": "https://carpentries.github.io/workshop-template/install_instructions/",
  "fixes": {
    "install": {
      "command": "Install {human}: {url}",
      "module": "Install it: {python} -m pip install {distribution} (or, with conda: conda install {distribution}); see {url}",
      "any": "Install one of them: {url}",
      "r-package": "Install it: in R or RStudio, run install.packages('{distribution}'); see {url}",
      "conda-env": "Create it as the install instructions say: {url}"
    },
    "upgrade": {
      "command": "Install {human} {minimum} or newer: {url}",
      "module": "Upgrade it: {python} -m pip install --upgrade {distribution} (or, with conda: conda update {distribution}); see {url}",
      "any": "Install {human} {minimum} or newer: {url}",
      "r-package": "Update it: in R or RStudio, run install.packages('{distribution}'); see {url}",
      "conda-env": "Create it again as the install instructions say: {url}"
    },
    "timed_out": {
      "command": "Check that {human} starts, or reinstall it: {url}",
      "module": "Try 'import {module}' in Python yourself, or reinstall it; see {url}",
      "any": "Install one of them: {url}",
      "r-package": "Try library({distribution}) in R yourself, or reinstall it with install.packages('{distribution}'); see {url}",
      "conda-env": "Check that 'conda env list' works, or reinstall Miniforge: {url}"
    },
    "reinstall": {
      "command": "Reinstall {human}: {url}",
      "module": "Reinstall it; see {url}",
      "any": "Install one of them: {url}",
      "r-package": "Reinstall it: in R or RStudio, run install.packages('{distribution}'); see {url}",
      "conda-env": "Check that 'conda env list' works, or reinstall Miniforge: {url}"
    }
  },
  "notes": {
    "conda_environment": {
      "Windows": "Packages are checked for the Python running this script: with Miniforge, run it again from the Miniforge Prompt after typing conda activate carpentries.",
      "other": "Packages are checked for the Python running this script: with Miniforge, run it again after typing conda activate carpentries in a terminal."
    },
    "developer_tools": "Install Apple's command line developer tools: run xcode-select --install (a window opens: choose Install, not Get Xcode), then run this check again; see {url}",
    "not_git_bash": "{path} is WSL's bash, not Git Bash"
  },
  "checks": [
    {"name": "shell", "human": "Shell", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "alternatives": ["bash", "zsh", "powershell"], "alternatives_on": {"Windows": ["bash"]},
     "install_on": {"Windows": "Install Git for Windows, which brings Git Bash, and use Git Bash for the workshop (PowerShell and WSL's bash do not count): {url}"}},
    {"name": "bash", "human": "Bash", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "commands": ["bash"],
     "paths": ["%ProgramFiles%\\Git\\bin\\bash.exe", "%ProgramFiles%\\Git\\usr\\bin\\bash.exe",
               "%LOCALAPPDATA%\\Programs\\Git\\bin\\bash.exe", "%LOCALAPPDATA%\\Programs\\Git\\usr\\bin\\bash.exe"],
     "not_under": ["%SystemRoot%", "%LOCALAPPDATA%\\Microsoft\\WindowsApps"], "not_under_note": "not_git_bash",
     "install_on": {"Windows": "Install Git for Windows, which brings Git Bash: {url}"}},
    {"name": "zsh", "human": "Zsh", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell", "commands": ["zsh"]},
    {"name": "powershell", "human": "PowerShell", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "commands": ["pwsh", "powershell"],
     "args": ["-NoProfile", "-NonInteractive", "-Command", "$PSVersionTable.PSVersion.ToString()"]},
    {"name": "editor", "human": "Editor", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "alternatives": ["nano", "vim", "emacs", "vscode", "notepad-plus-plus"]},
    {"name": "nano", "human": "GNU nano", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "commands": ["nano"], "paths": ["%ProgramFiles%\\Git\\usr\\bin\\nano.exe", "%LOCALAPPDATA%\\Programs\\Git\\usr\\bin\\nano.exe"]},
    {"name": "vim", "human": "Vim", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "commands": ["vim"], "paths": ["%ProgramFiles%\\Git\\usr\\bin\\vim.exe", "%LOCALAPPDATA%\\Programs\\Git\\usr\\bin\\vim.exe"]},
    {"name": "emacs", "human": "GNU Emacs", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor", "commands": ["emacs"]},
    {"name": "vscode", "human": "Visual Studio Code", "kind": "command",
     "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor", "commands": ["code"],
     "paths": ["%LOCALAPPDATA%\\Programs\\Microsoft VS Code\\bin\\code.cmd",
               "%ProgramFiles%\\Microsoft VS Code\\bin\\code.cmd",
               "/Applications/Visual Studio Code.app/Contents/Resources/app/bin/code"]},
    {"name": "notepad-plus-plus", "human": "Notepad++", "kind": "command",
     "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor", "commands": ["notepad++"],
     "paths": ["%ProgramFiles%\\Notepad++\\notepad++.exe"],
     "args": null},
    {"name": "git", "human": "Git", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#git",
     "minimum": "2.28", "minimum_source": "the Git lesson uses init.defaultBranch (Git 2.28) and git restore (2.23)",
     "commands": ["git"], "paths": ["%ProgramFiles%\\Git\\cmd\\git.exe", "%LOCALAPPDATA%\\Programs\\Git\\cmd\\git.exe"],
     "pattern": "git version (\\d\\S*)",
     "install_on": {"Darwin": "Install Git with Apple's command line tools (run: xcode-select --install), or see {url}",
                    "Linux": "Install Git with your distribution's package manager (e.g. sudo apt install git); see {url}"}},
    {"name": "make", "human": "GNU Make", "kind": "command", "url": "https://swcarpentry.github.io/make-novice/#setup", "commands": ["make"],
     "install_on": {"Darwin": "Install GNU Make with Apple's command line tools (run: xcode-select --install); see {url}",
                    "Linux": "Install GNU Make with your distribution's package manager (e.g. sudo apt install make); see {url}"}},
    {"name": "python", "human": "Python", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "minimum": "3.11", "minimum_until": "2027-10-31",
     "minimum_source": "https://devguide.python.org/versions/ : the oldest Python still maintained upstream; 3.10 reached its end of life in October 2026, 3.11 is maintained until October 2027",
     "paths": ["{python}"], "pattern": "Python (\\d\\S*)"},
    {"name": "package-manager", "human": "pip or conda", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "alternatives": ["pip", "conda"],
     "install": "Install pip ({python} -m ensurepip --upgrade) or Miniforge: {url}"},
    {"name": "pip", "human": "pip", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "module": "pip",
     "install": "Install pip: {python} -m ensurepip --upgrade; see {url}",
     "install_on": {"Linux": "Install pip: {python} -m ensurepip --upgrade (for your distribution's own Python: sudo apt install python3-pip); see {url}"}},
    {"name": "conda", "human": "conda", "kind": "command",
     "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "commands": ["conda"],
     "paths": ["$CONDA_EXE",
               "%USERPROFILE%\\miniforge3\\condabin\\conda.bat", "%USERPROFILE%\\mambaforge\\condabin\\conda.bat",
               "%USERPROFILE%\\anaconda3\\condabin\\conda.bat", "%USERPROFILE%\\miniconda3\\condabin\\conda.bat",
               "%LOCALAPPDATA%\\miniforge3\\condabin\\conda.bat", "%ProgramData%\\miniforge3\\condabin\\conda.bat",
               "%ProgramData%\\anaconda3\\condabin\\conda.bat",
               "~/miniforge3/bin/conda", "~/mambaforge/bin/conda", "~/anaconda3/bin/conda", "~/miniconda3/bin/conda",
               "/opt/miniforge3/bin/conda", "/opt/anaconda3/bin/conda", "/opt/homebrew/Caskroom/miniforge/base/bin/conda"],
     "install": "Install Miniforge as the install instructions say: {url}"},
    {"name": "carpentries-env", "human": "carpentries environment", "kind": "conda-env",
     "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "environment": "carpentries"},
    {"name": "jupyter", "human": "Jupyter", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "alternatives": ["notebook", "jupyterlab"]},
    {"name": "notebook", "human": "Jupyter Notebook", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "notebook"},
    {"name": "jupyterlab", "human": "JupyterLab", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "jupyterlab"},
    {"name": "numpy", "human": "NumPy", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "numpy"},
    {"name": "pandas", "human": "pandas", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "pandas"},
    {"name": "matplotlib", "human": "Matplotlib", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "matplotlib"},
    {"name": "scipy", "human": "SciPy", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "scipy"},
    {"name": "seaborn", "human": "seaborn", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "seaborn"},
    {"name": "scikit-learn", "human": "scikit-learn", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "module": "sklearn", "distribution": "scikit-learn"},
    {"name": "plotnine", "human": "plotnine", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "plotnine"},
    {"name": "sqlite3", "human": "SQLite", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#sql", "commands": ["sqlite3"],
     "paths": ["%USERPROFILE%\\bin\\sqlite3.exe", "{prefix}\\Library\\bin\\sqlite3.exe",
               "%USERPROFILE%\\miniforge3\\Library\\bin\\sqlite3.exe", "%USERPROFILE%\\anaconda3\\Library\\bin\\sqlite3.exe",
               "%USERPROFILE%\\miniconda3\\Library\\bin\\sqlite3.exe", "%ProgramData%\\anaconda3\\Library\\bin\\sqlite3.exe",
               "~/bin/sqlite3"]},
    {"name": "python-sqlite3", "human": "Python sqlite3 module", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#sql",
     "module": "sqlite3", "attribute": "sqlite_version"},
    {"name": "dbbrowser", "human": "DB Browser for SQLite", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#sql",
     "commands": ["sqlitebrowser"],
     "paths": ["%ProgramFiles%\\DB Browser for SQLite\\DB Browser for SQLite.exe",
               "/Applications/DB Browser for SQLite.app", "~/Applications/DB Browser for SQLite.app",
               "/var/lib/flatpak/exports/bin/org.sqlitebrowser.sqlitebrowser",
               "~/.local/share/flatpak/exports/bin/org.sqlitebrowser.sqlitebrowser", "/snap/bin/sqlitebrowser"],
     "args": null},
    {"name": "r", "human": "R", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "minimum": "4.0",
     "commands": ["R", "Rscript"],
     "paths": ["%ProgramFiles%\\R\\R-*\\bin\\R.exe", "%LOCALAPPDATA%\\Programs\\R\\R-*\\bin\\R.exe",
               "/Library/Frameworks/R.framework/Resources/bin/R", "/opt/homebrew/bin/R", "/usr/local/bin/R"],
     "pattern": "version (\\d\\S*)"},
    {"name": "rstudio", "human": "RStudio", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r",
     "commands": ["rstudio"],
     "paths": ["%ProgramFiles%\\RStudio\\rstudio.exe", "%ProgramFiles%\\RStudio\\bin\\rstudio.exe",
               "%LOCALAPPDATA%\\Programs\\RStudio\\rstudio.exe",
               "/Applications/RStudio.app", "~/Applications/RStudio.app",
               "/usr/lib/rstudio/bin/rstudio", "/usr/lib/rstudio/rstudio"],
     "args": null},
    {"name": "r-ggplot2", "human": "R package ggplot2", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "ggplot2"},
    {"name": "r-dplyr", "human": "R package dplyr", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "dplyr"},
    {"name": "r-tidyr", "human": "R package tidyr", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "tidyr"},
    {"name": "r-gapminder", "human": "R package gapminder", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "gapminder"},
    {"name": "r-tidyverse", "human": "R package tidyverse", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "tidyverse"},
    {"name": "r-lubridate", "human": "R package lubridate", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "lubridate"},
    {"name": "r-ratdat", "human": "R package ratdat", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "ratdat"},
    {"name": "r-rsqlite", "human": "R package RSQLite", "kind": "r-package", "url": "https://carpentries.github.io/workshop-template/install_instructions/#r", "distribution": "RSQLite"},
    {"name": "openrefine", "human": "OpenRefine", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#openrefine",
     "minimum": "3.7", "minimum_source": "the Data and Library Carpentry OpenRefine lessons",
     "commands": ["openrefine", "refine"],
     "paths": ["%USERPROFILE%\\OpenRefine\\openrefine-*\\openrefine.exe", "%USERPROFILE%\\*\\OpenRefine\\openrefine-*\\openrefine.exe",
               "%USERPROFILE%\\*\\openrefine-*\\openrefine.exe", "%USERPROFILE%\\*\\openrefine-*\\openrefine-*\\openrefine.exe",
               "%USERPROFILE%\\OneDrive\\*\\OpenRefine\\openrefine-*\\openrefine.exe",
               "%USERPROFILE%\\OneDrive\\*\\openrefine-*\\openrefine.exe",
               "%ProgramFiles%\\OpenRefine\\openrefine.exe", "%LOCALAPPDATA%\\Programs\\OpenRefine\\openrefine.exe",
               "/Applications/OpenRefine.app", "~/Applications/OpenRefine.app",
               "~/OpenRefine/openrefine-*/refine", "~/*/OpenRefine/openrefine-*/refine", "~/openrefine-*/refine",
               "~/*/openrefine-*/refine", "~/*/openrefine-*/openrefine-*/refine",
               "/opt/openrefine-*/refine", "/opt/openrefine/refine"],
     "args": null, "version_in_path": "openrefine-(\\d+(?:\\.\\d+)+)",
     "requires_on": {"Linux": ["java"]}},
    {"name": "java", "human": "Java", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#openrefine",
     "minimum": "11", "minimum_source": "OpenRefine 3.7 needs Java 11 or newer where it does not bring its own",
     "commands": ["java"], "args": ["-version"], "pattern": "version \"(\\d[^\"]*)\"",
     "install_on": {"Linux": "Install Java 11 or newer with your distribution's package manager (e.g. sudo apt install default-jre); see {url}"}},
    {"name": "spreadsheet", "human": "Spreadsheet program", "kind": "any", "url": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
     "alternatives": ["libreoffice", "excel", "numbers"]},
    {"name": "libreoffice", "human": "LibreOffice", "kind": "command", "url": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
     "commands": ["libreoffice", "soffice", "localc"],
     "paths": ["%ProgramFiles%\\LibreOffice\\program\\soffice.exe", "/Applications/LibreOffice.app",
               "/var/lib/flatpak/exports/bin/org.libreoffice.LibreOffice", "/snap/bin/libreoffice"],
     "args": null},
    {"name": "excel", "human": "Microsoft Excel", "kind": "command", "url": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
     "paths": ["%ProgramFiles%\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "%ProgramFiles%\\Microsoft Office\\Office16\\EXCEL.EXE",
               "/Applications/Microsoft Excel.app"],
     "args": null},
    {"name": "numbers", "human": "Apple Numbers", "kind": "command", "url": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
     "paths": ["/Applications/Numbers.app"], "args": null}
  ],
  "presets": [
    {"curriculum": "swc-inflammation", "flavor": "python",
     "checks": ["shell", "editor", "git", "python", "conda", "carpentries-env", "jupyter", "numpy", "matplotlib"],
     "sources": ["https://github.com/carpentries/workshop-template/blob/gh-pages/_includes/swc/setup.html",
                 "https://swcarpentry.github.io/python-novice-inflammation/#setup"]},
    {"curriculum": "swc-inflammation", "flavor": "r",
     "checks": ["shell", "editor", "git", "r", "rstudio"],
     "sources": ["https://github.com/carpentries/workshop-template/blob/gh-pages/_includes/swc/setup.html",
                 "https://swcarpentry.github.io/r-novice-inflammation/#setup"]},
    {"curriculum": "swc-gapminder", "flavor": "python",
     "checks": ["shell", "editor", "git", "python", "conda", "carpentries-env", "jupyter", "pandas", "matplotlib"],
     "sources": ["https://github.com/carpentries/workshop-template/blob/gh-pages/_includes/swc/setup.html",
                 "https://swcarpentry.github.io/python-novice-gapminder/#setup"]},
    {"curriculum": "swc-gapminder", "flavor": "r",
     "checks": ["shell", "editor", "git", "r", "rstudio", "r-ggplot2", "r-dplyr", "r-tidyr", "r-gapminder"],
     "sources": ["https://github.com/carpentries/workshop-template/blob/gh-pages/_includes/swc/setup.html",
                 "https://swcarpentry.github.io/r-novice-gapminder/#setup"]},
    {"curriculum": "dc-ecology", "flavor": "python",
     "checks": ["spreadsheet?", "openrefine", "python", "conda", "carpentries-env", "jupyter", "pandas", "matplotlib",
                "plotnine", "dbbrowser"],
     "sources": ["https://datacarpentry.org/ecology-workshop/setup-python-workshop.html"]},
    {"curriculum": "dc-ecology", "flavor": "r",
     "checks": ["spreadsheet?", "openrefine", "r", "rstudio", "r-tidyverse", "r-lubridate", "r-ratdat", "r-rsqlite",
                "dbbrowser"],
     "sources": ["https://datacarpentry.org/ecology-workshop/setup-r-workshop.html"]},
    {"curriculum": "lc", "flavor": null,
     "checks": ["shell", "git", "openrefine", "spreadsheet?"],
     "sources": ["https://github.com/carpentries/workshop-template/blob/gh-pages/_includes/lc/setup.html",
                 "https://librarycarpentry.org/lc-spreadsheets/"]}
  ]
}
""")
# END CHECK CATALOG

COMMAND_TIMEOUT = 10  # seconds for one "tool --version" command
IMPORT_TIMEOUT = 30  # seconds for importing a package (matplotlib's first import builds a font cache)
NETWORK_TIMEOUT = 10  # seconds for connecting to and hearing from the server
VERBOSE_LINES = 20  # lines of a command's output shown by --verbose
# Where the lines under a failed check start (its fix, then what others did): under its name.
DETAIL_INDENT = " " * len("[FAIL] ")

CONFIG_DIR_ENV = "SWC_CHECK_CONFIG_DIR"
CONFIG_SUBDIR = "swc-installation-test"
KEY_FILE = "key"
# Reports the learner agreed to send that could not be delivered wait here, in the config
# folder, one JSON file each, and are sent first thing on the next run.
PENDING_FOLDER = "pending"
MAX_PENDING = 10  # the latest ones kept; older ones are dropped

# What runs when the server sets no CHECKS: a Python + shell + git workshop.
DEFAULT_CHECKS = CATALOG["default_checks"]
FIXES = CATALOG["fixes"]
# The catalog's stand-in for the interpreter running this script.
PYTHON_PLACEHOLDER = "{python}"

SPEC_PATTERN = re.compile(r"([a-z0-9][a-z0-9_.-]*)(?:>=([0-9][0-9A-Za-z.+-]*))?(\?)?")
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DOTTED_VERSION = r"(\d+(?:\.\d+)+)"
VERSION_MARKER = "SWC-CHECK-VERSION:"

# Run as "python -c" in a child interpreter: import the module named by
# argv[1], print its version attribute argv[2] (or the installed
# distribution argv[3]'s version) after VERSION_MARKER.
MODULE_VERSION_CODE = """\
import importlib, sys
module = importlib.import_module(sys.argv[1])
version = getattr(module, sys.argv[2], None)
if version is None:
    try:
        try:
            from importlib.metadata import version as dist_version
        except ImportError:
            from pkg_resources import get_distribution
            def dist_version(name):
                return get_distribution(name).version
        version = dist_version(sys.argv[3])
    except Exception:
        version = ""
print("%s%s" % (sys.argv[4], version))
"""


# Run as "Rscript -e" (one line, no double quotes: Windows passes it through cmd-style
# quoting): print the version of the R package named by the first argument after the marker
# (empty when it is not installed), and why loading it failed, if it did.
R_PACKAGE_CODE = (
    "a <- commandArgs(TRUE); "
    "v <- tryCatch(as.character(packageVersion(a[1])), error = function(e) ''); "
    "p <- if (nzchar(v)) tryCatch({loadNamespace(a[1]); ''}, error = function(e) conditionMessage(e)) else ''; "
    "cat(a[2], v, '\\n', sep = ''); "
    "if (nzchar(p)) cat(a[3], gsub('[[:space:]]+', ' ', p), '\\n', sep = '')")
R_PROBLEM_MARKER = "SWC-CHECK-PROBLEM:"

# What Apple's stand-ins for /usr/bin/git, make, ... print until the command line developer
# tools are installed (never installed; or lost in a macOS upgrade).
APPLE_STUB_OUTPUT = re.compile(r"xcode-select: (?:note|error): no developer tools were found"
                               r"|xcrun: error: invalid active developer path")
# Process creation flags (Windows): no console window for each check when the script runs
# under pythonw, and a group of its own so that a timed-out tool can be stopped as a tree.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
# How this Python's subprocess reads pipes: in this thread on POSIX, by threads on Windows.
# Fixed at import, so a test that simulates another system does not change it.
POSIX_PIPES = os.name == "posix"
NOTES = CATALOG["notes"]
# A check's stand-in for "the sys.prefix of the interpreter running the script" in its paths.
PREFIX_PLACEHOLDER = "{prefix}"
# A Windows environment variable in a catalog path, e.g. %LOCALAPPDATA%.
WINDOWS_VARIABLE = re.compile(r"%([^%]+)%")
# Where a Python from python.org lives on macOS (it brings its own OpenSSL without certificates).
PYTHON_ORG_FRAMEWORK = "/Library/Frameworks/Python.framework/"


class Check(object):
    """One row of the check table: what to look for and how to tell its version."""

    def __init__(self, name, human, kind, url, minimum=None, commands=(), paths=(),
                 args=("--version",), pattern=DOTTED_VERSION, module=None,
                 attribute="__version__", distribution=None, alternatives=(), install_on=None,
                 install=None, alternatives_on=None, not_under=(), not_under_note=None,
                 requires_on=None, version_in_path=None, environment=None,
                 minimum_source=None, minimum_until=None):
        self.name = name
        self.human = human
        self.kind = kind
        self.url = url
        self.minimum = minimum
        self.commands = tuple(commands)
        self.paths = tuple(paths)
        self.args = None if args is None else tuple(args)
        self.pattern = pattern
        self.module = module
        self.attribute = attribute
        self.distribution = distribution or module
        self.alternatives = tuple(alternatives)
        self.install_on = dict(install_on or {})
        # The install fix on every system without one of its own in install_on.
        self.install = install
        # Other alternatives on some systems: on Windows only Git Bash is a shell.
        self.alternatives_on = dict(alternatives_on or {})
        # Folders whose executables do not count (WSL's bash.exe in System32), and the
        # catalog note that says why.
        self.not_under = tuple(not_under)
        self.not_under_note = not_under_note
        # Checks that must pass too on some systems (OpenRefine needs Java on Linux).
        self.requires_on = dict(requires_on or {})
        # For a tool that is found but not run: where its version shows in its path.
        self.version_in_path = version_in_path
        self.environment = environment
        # Why the minimum is what it is, and the day it has to be looked at again.
        self.minimum_source = minimum_source
        self.minimum_until = minimum_until

    @property
    def label(self):
        """The name sent to the server, e.g. "Git (git)"."""
        return f"{self.human} ({self.name})"

    def describe(self):
        """Say in a few words how this check looks for its tool (for --list)."""
        if self.kind == "any":
            return "any of: " + ", ".join(self.alternatives)
        if self.kind == "module":
            return f"Python module {self.module}"
        if self.kind == "r-package":
            return f"R package {self.distribution}, through Rscript"
        if self.kind == "conda-env":
            return f"conda environment {self.environment}"
        first = self.paths[0] if self.paths else ""
        runs = " or ".join(self.commands) or location_name(interpreter() if first == PYTHON_PLACEHOLDER else first)
        return f"runs {runs} {' '.join(self.args)}" if self.args is not None else f"finds {runs}"


def command_check(name, human, commands, url, paths=(), **options):
    """Define a check that runs a program (found on PATH or at a usual place) for its version."""
    return Check(name, human, "command", url, commands=commands, paths=paths, **options)


def module_check(name, human, module, url=None, **options):
    """Define a check that imports a Python module in a child interpreter for its version."""
    return Check(name, human, "module", url or CATALOG_BY_NAME["python"]["url"], module=module, **options)


def any_of(name, human, alternatives, url):
    """Define a virtual check that passes when any of the named checks passes."""
    return Check(name, human, "any", url, alternatives=alternatives)


def catalog_check(entry):
    """Build a Check from one entry of the catalog."""
    return Check(**entry)


CATALOG_BY_NAME = {entry["name"]: entry for entry in CATALOG["checks"]}
CHECK_TABLE = collections.OrderedDict((entry["name"], catalog_check(entry))
                                      for entry in CATALOG["checks"])
# The conda environment the install instructions create, where Python packages are checked.
WORKSHOP_ENVIRONMENT = CATALOG_BY_NAME["carpentries-env"]["environment"]

Planned = collections.namedtuple("Planned", "check minimum optional")


class Result(object):
    """What one check found: the version (None when unknown) and, for a failure, why."""

    def __init__(self, check, version=None, found=None):
        self.check = check
        self.version = version
        self.found = found
        self.optional = False
        self.error = None
        self.problem = None
        self.hint = None

    @property
    def passed(self):
        """True when nothing went wrong."""
        return self.error is None

    def fail(self, error, problem, hint):
        """Mark as failed: error goes to the server, problem and hint to the learner."""
        self.error, self.problem, self.hint = error, problem, hint
        return self


def say(text="", stream=None):
    """Print a line, replacing characters the console cannot show instead of crashing."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "replace").decode(encoding), file=stream, flush=True)


def warn(text):
    """Tell the learner about a problem that does not stop the script."""
    say("warning: " + text, sys.stderr)


# ---------------------------------------------------------------- this computer

def on_windows():
    """True on Windows (read at each call, so that tests can simulate it)."""
    return sys.platform.startswith("win")


def protect_console():
    """Make standard output and error replace what their encoding cannot show, instead of
    raising UnicodeEncodeError: a cp1252 pipe, Git Bash or a redirect meet a learner's name
    in a path in --help, argparse's messages and every line printed after this."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or getattr(stream, "errors", None) != "strict":
            continue
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
        elif hasattr(stream, "buffer"):  # Python 3.6: a new wrapper around the same bytes
            stream.flush()
            line_buffering = stream.line_buffering
            setattr(sys, name, io.TextIOWrapper(stream.detach(), encoding=stream.encoding,
                                                errors="replace", line_buffering=line_buffering))


def interactive(stream=None):
    """Tell whether a learner can be asked on stream (standard input): a terminal, or Git
    Bash's mintty on Windows, which a Windows Python sees as a pipe (isatty() is False there,
    yet input() reaches the learner). A file or nothing at all is not a learner."""
    stream = sys.stdin if stream is None else stream
    if stream is None:
        return False
    try:
        if stream.isatty():
            return True
        if not (on_windows() and os.environ.get("MSYSTEM")):
            return False
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def windows_release(release, build, edition=""):
    """Windows 11 as Python 3.11 and older describe it: release "10" with a build of 22000 or
    more ("10.0.22631"). Windows Server editions keep the release Python gives."""
    parts = (build or "").split(".")
    if release == "10" and len(parts) >= 3 and parts[2].isdigit() and int(parts[2]) >= 22000 \
            and "server" not in (edition or "").lower():
        return "11"
    return release


def explain_certificate_error(error):
    """What to tell the learner when sending failed because this Python could not verify the
    server's certificate (urllib's URLError, or the SSL error itself); None for other errors.
    A Python from python.org on macOS has no certificates until the "Install Certificates
    command" in its Applications folder has run."""
    reason = getattr(error, "reason", None) or error
    if "CERTIFICATE_VERIFY_FAILED" not in f"{reason} {error}":
        return None
    if platform.system() == "Darwin" and (sys.prefix.startswith(PYTHON_ORG_FRAMEWORK) or
                                          sys.executable.startswith(PYTHON_ORG_FRAMEWORK)):
        folder = "Python %d.%d" % sys.version_info[:2]
        return (f"This Python (from python.org) cannot check the server's certificate until its "
                f"certificates are installed: in the Finder, open Applications, then {folder}, "
                f"and double-click \"Install Certificates.command\"; then run this script again.")
    return (f"The server's certificate could not be verified ({reason}). On a network that "
            "inspects encrypted traffic (at work, at a university) try another network, or "
            "ask the workshop's organisers.")


# ---------------------------------------------------------------- the learner's shell

# The shells a learner types in on Windows, by the name of the process that runs each: cmd,
# PowerShell (5.1 and 7), and the POSIX shells of Git Bash, MSYS2 and Cygwin.
SHELL_PROCESSES = {"cmd.exe": "cmd", "powershell.exe": "powershell", "pwsh.exe": "powershell",
                   "bash.exe": "posix", "sh.exe": "posix", "zsh.exe": "posix", "mintty.exe": "posix"}
# The shells a Windows learner may be in, by the names learners know, in the order a command
# is offered for each when the shell is not known: Windows' own terminal opens PowerShell, the
# workshop uses Git Bash, the Command Prompt comes last.
WINDOWS_SHELLS = collections.OrderedDict([("powershell", "PowerShell"), ("posix", "Git Bash"),
                                          ("cmd", "the Command Prompt")])
# Words each shell takes as they are; any other is quoted. POSIX shells: shlex's own rule.
# PowerShell reads @ as splatting and , as an array, so neither is left bare there.
UNQUOTED = {"powershell": re.compile(r"[\w%+=:./\\-]+"), "cmd": re.compile(r"[\w@+=:,./\\-]+")}


def learner_shell():
    """The shell the learner typed "python check.py" in: "posix" off Windows; on Windows
    "posix" (Git Bash, MSYS2, Cygwin), "powershell" or "cmd" from the nearest shell among the
    processes that started this one (right inside one shell started from another), else from
    the traces shells leave in the environment; None when neither tells."""
    if not on_windows():
        return "posix"
    for name in windows_ancestors():
        if name in SHELL_PROCESSES:
            return SHELL_PROCESSES[name]
    return environment_shell()


def environment_shell():
    """The Windows shell as the environment tells it, for when the processes do not: "posix"
    (Git Bash sets MSYSTEM), "powershell" (it puts a module folder in the learner's profile at
    the head of PSModulePath; the system-wide value has none), "cmd" (it sets PROMPT), or None
    when unsure (both traces, or neither: started by double-click, or one shell inside the
    other, which also inherits the first one's MSYSTEM)."""
    if os.environ.get("MSYSTEM"):
        return "posix"
    profile = windows_key(os.environ.get("USERPROFILE", ""))
    modules = os.environ.get("PSModulePath", "").split(";")
    powershell = bool(profile) and any(windows_key(folder).startswith(profile + "\\")
                                       for folder in modules)
    cmd = "PROMPT" in os.environ
    if powershell != cmd:
        return "powershell" if powershell else "cmd"
    return None


@functools.lru_cache(maxsize=None)  # the processes above this one stay the same for its run
def windows_ancestors(limit=8):
    """The executable names (lower case) of the processes that started this one, parent
    first, from a Windows process snapshot; () when it cannot be taken."""
    try:
        import ctypes
        from ctypes import wintypes

        class ProcessEntry(ctypes.Structure):
            """PROCESSENTRY32W."""
            _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD),
                        ("th32ProcessID", wintypes.DWORD), ("th32DefaultHeapID", ctypes.c_size_t),
                        ("th32ModuleID", wintypes.DWORD), ("cntThreads", wintypes.DWORD),
                        ("th32ParentProcessID", wintypes.DWORD), ("pcPriClassBase", wintypes.LONG),
                        ("dwFlags", wintypes.DWORD), ("szExeFile", wintypes.WCHAR * 260)]

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
        kernel32.CreateToolhelp32Snapshot.argtypes = [wintypes.DWORD, wintypes.DWORD]
        kernel32.Process32FirstW.argtypes = [wintypes.HANDLE, ctypes.POINTER(ProcessEntry)]
        kernel32.Process32NextW.argtypes = [wintypes.HANDLE, ctypes.POINTER(ProcessEntry)]
        kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
        snapshot = kernel32.CreateToolhelp32Snapshot(2, 0)  # TH32CS_SNAPPROCESS
        if not snapshot or snapshot == wintypes.HANDLE(-1).value:
            return ()
        processes = {}
        try:
            entry = ProcessEntry()
            entry.dwSize = ctypes.sizeof(ProcessEntry)
            more = kernel32.Process32FirstW(snapshot, ctypes.byref(entry))
            while more:
                processes[entry.th32ProcessID] = (entry.th32ParentProcessID, entry.szExeFile.lower())
                more = kernel32.Process32NextW(snapshot, ctypes.byref(entry))
        finally:
            kernel32.CloseHandle(snapshot)
        names, pid = [], os.getpid()
        while len(names) < limit and pid in processes and processes[pid][0] in processes:
            pid = processes[pid][0]
            names.append(processes[pid][1])
        return tuple(names)
    except Exception:  # any failure only costs the environment's guess
        return ()


def interpreter():
    """The interpreter that runs the checks: this one, but python.exe for pythonw.exe (which
    prints nothing, having no console)."""
    folder, name = os.path.split(sys.executable)
    if name.lower() == "pythonw.exe":
        console = os.path.join(folder, "python.exe")
        if os.path.isfile(console):
            return console
    return sys.executable


def interpreter_words():
    """How the learner starts this Python, as words of a command (in a fix and in the re-test
    line): "py -3.12" when the py launcher started it; the name the learner typed ("python3",
    "python") when it leads to this very interpreter on PATH, else python3 or python when one
    does; else its full path (python.exe for pythonw.exe, as interpreter())."""
    ancestors = windows_ancestors() if on_windows() else ()
    if ancestors and ancestors[0] == "py.exe":
        # "py" alone may pick another Python next time (py -3.11 was maybe typed): name it.
        bits = "-32" if sys.maxsize < 2 ** 32 else ""
        return ["py", f"-{sys.version_info[0]}.{sys.version_info[1]}{bits}"]
    typed = typed_interpreter()
    names = [typed] if typed and os.path.basename(typed) == typed else []
    names += ["python"] if on_windows() else ["python3", "python"]
    for name in names:
        found = find_on_path(name)
        if found and is_this_interpreter(found):
            return [name]
    return [interpreter()]


def typed_interpreter():
    """The interpreter as the command line named it (Python 3.10's sys.orig_argv, else Linux's
    /proc), or None. Only a hint: a shebang or a launcher may have put a full path there."""
    original = getattr(sys, "orig_argv", None)
    if original:
        return original[0]
    try:
        with open("/proc/self/cmdline", "rb") as stream:
            return stream.read().split(b"\0")[0].decode(sys.getfilesystemencoding()) or None
    except (OSError, UnicodeDecodeError):
        return None


def is_this_interpreter(path):
    """Whether running path runs the interpreter of the checks (a venv's or pyenv's link
    included; not pythonw.exe, which prints nothing; the Microsoft Store's python.exe is an
    alias that cannot be compared, so both being its are)."""
    this = interpreter()
    try:
        if os.path.samefile(path, this):
            return True
    except OSError:
        pass
    store = os.path.join("microsoft", "windowsapps") + os.sep
    return all(store in os.path.normcase(p) for p in (path, this))


def command_line(words, shell):
    """words as one command for shell ("posix", "powershell" or "cmd"), each quoted as needed:
    PowerShell's '...' (with '' for ', never expanded), and & before a quoted command, which
    PowerShell otherwise takes for a string ("Unexpected token '-m'"); cmd's "..."."""
    if shell == "posix":
        return " ".join(shlex.quote(word) for word in words)
    quoted = []
    for word in words:
        if UNQUOTED[shell].fullmatch(word):
            quoted.append(word)
        elif shell == "powershell":
            quoted.append("'" + word.replace("'", "''") + "'")
        else:
            quoted.append(f'"{word}"')
    line = " ".join(quoted)
    return "& " + line if shell == "powershell" and quoted[0] != words[0] else line


def command_forms(words):
    """words as the learner can type them: [(None, line)] for the learner's shell; when it is
    not known (on Windows), one (shells, line) per different line, shells naming where it
    works ("PowerShell", "Git Bash or the Command Prompt")."""
    shell = learner_shell()
    if shell is not None:
        return [(None, command_line(words, shell))]
    shells = collections.OrderedDict()
    for shell, name in WINDOWS_SHELLS.items():
        shells.setdefault(command_line(words, shell), []).append(name)
    if len(shells) == 1:
        return [(None, line) for line in shells]
    return [(" or ".join(names), line) for line, names in shells.items()]


# ---------------------------------------------------------------- versions

def version_tuple(text):
    """Return the first dotted numeric version in text (else the first number) as ints, or None."""
    if not text:
        return None
    match = re.search(DOTTED_VERSION, text) or re.search(r"\d+", text)
    return tuple(int(part) for part in match.group(0).split(".")) if match else None


def version_at_least(found, minimum):
    """Tell whether version text found is minimum or newer; missing components count as 0."""
    have, need = version_tuple(found), version_tuple(minimum)
    if have is None or need is None:
        raise ValueError(f"cannot compare versions {found!r} and {minimum!r}")
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def parse_check_spec(spec):
    """Split "NAME", "NAME>=VERSION", each optionally ending in "?", into (name, minimum, optional)."""
    match = SPEC_PATTERN.fullmatch(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(f"bad check {spec!r}: expected NAME or NAME>=VERSION, optionally followed by ?")
    name, minimum, optional = match.groups()
    return name, minimum, optional is not None


# ---------------------------------------------------------------- running checks

def process_options():
    """Popen's options for a check's command: on POSIX a session of its own (to stop it with
    its children); on Windows a process group of its own and no console window."""
    if on_windows():
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    return {"start_new_session": True}


def decode_output(raw):
    """A command's output as text: UTF-16 where a program wrote it so (WSL's bash.exe and
    wsl.exe do, without a byte order mark), else UTF-8, else this system's encoding; then
    cleaned as a report's error text is (clean_text): terminal escape sequences removed whole
    before the controls (a coloured message keeps no "[31m"), line endings made \\n."""
    odd = raw[1::2]
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16", "replace")
    elif len(raw) >= 4 and odd.count(0) * 2 > len(odd) and raw[::2].count(0) * 2 < len(odd):
        text = raw.decode("utf-16-le", "replace")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode(locale.getpreferredencoding(False) or "latin-1", "replace")
    return clean_text(text, one_line=False)


def run_command(argv, timeout, verbose, shown=None):
    """Run argv without a shell and return (exit code, stdout+stderr); never waits past timeout."""
    if verbose:
        say("    $ " + (shown or " ".join(argv)))
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, **process_options())
    try:
        raw, _ = process.communicate(timeout=timeout)
    except BaseException:
        stop_process(process)
        raise
    output = decode_output(raw)
    if verbose:
        lines = output.splitlines()
        for line in lines[:VERBOSE_LINES]:
            say("    | " + line)
        if len(lines) > VERBOSE_LINES:
            say(f"    | ... ({len(lines) - VERBOSE_LINES} more lines)")
    return process.returncode, output


def stop_process(process):
    """Kill a command with its children (a timed-out code.cmd or conda.bat is cmd.exe running
    another program) without waiting for pipes its children hold."""
    try:
        if on_windows():
            stop_windows_tree(process.pid)
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except (OSError, subprocess.SubprocessError):  # gone already, or taskkill itself hung
        pass
    if POSIX_PIPES:
        process.stdout.close()  # on POSIX communicate() read it in this thread; nothing else uses it
    process.wait()


def stop_windows_tree(pid):
    """Stop process pid and every process it started, with Windows' own taskkill."""
    system_root = os.environ.get("SystemRoot") or os.environ.get("SYSTEMROOT") or r"C:\Windows"
    taskkill = os.path.join(system_root, "System32", "taskkill.exe")
    subprocess.run([taskkill if os.path.isfile(taskkill) else "taskkill", "/T", "/F", "/PID", str(pid)],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=COMMAND_TIMEOUT, **process_options())


def windows_key(path):
    """A Windows path as Windows compares it: either slash, any case, no trailing separator."""
    return path.replace("/", "\\").rstrip("\\").lower()


def environment_value(name):
    """An environment variable, by its name in any case (as Windows looks them up)."""
    if name in os.environ:
        return os.environ[name]
    matches = [value for key, value in os.environ.items() if key.upper() == name.upper()]
    return matches[0] if matches else None


def expand_component(component):
    """The texts one component of a catalog path stands for: a %VARIABLE% or $VARIABLE is
    replaced by its value (no value, no text); %ProgramFiles% also by %ProgramW6432%, the
    64-bit folder that a 32-bit Python's %ProgramFiles% (the x86 folder) hides, and by
    %ProgramFiles(x86)%."""
    if component.startswith("$"):
        value = environment_value(component[1:])
        return [value] if value else []
    names = WINDOWS_VARIABLE.findall(component)
    texts = [component]
    for name in names:
        choices = [name]
        if name.lower() == "programfiles":
            choices += ["ProgramW6432", "ProgramFiles(x86)"]
        values = [environment_value(choice) for choice in choices]
        texts = [text.replace(f"%{name}%", value) for text in texts for value in values if value]
    return unique_texts(texts)


def unique_texts(texts):
    """texts without repetitions, in their order."""
    seen = []
    for text in texts:
        if text not in seen:
            seen.append(text)
    return seen


def expand_location(pattern):
    """The paths a catalog path stands for on this computer (for a pattern with "*", those that
    exist). Windows paths (written with backslashes) count only on Windows, and are joined with
    this system's separator."""
    if pattern == PYTHON_PLACEHOLDER:
        return [interpreter()]
    if "\\" in pattern and not on_windows():
        return []
    parts = pattern.split("\\") if "\\" in pattern else [pattern]
    if parts[0] == PREFIX_PLACEHOLDER:
        parts[0] = sys.prefix
    elif parts[0].startswith("~"):
        parts[0] = os.path.expanduser(parts[0])
    paths = [""]
    for part in parts:
        paths = [os.path.join(path, text) if path else text
                 for path in paths for text in expand_component(part)]
    found = []
    for path in paths:
        if os.path.isabs(path):
            found.extend(sorted(glob.glob(path), reverse=True) if "*" in path else [path])
    return found


def location_name(pattern):
    """The file or app a catalog path names, e.g. "bash.exe" or "RStudio.app"."""
    return re.split(r"[\\/]", pattern)[-1]


def find_on_path(command):
    """The executable a shell would run for command. On Windows, the first PATH folder holding
    command with one of PATHEXT's extensions (tried in lower case); unlike cmd.exe, the current
    folder does not count (a stray git.exe beside the downloaded check.py is not Git)."""
    if not on_windows():
        return shutil.which(command)
    if os.path.splitext(command)[1]:
        extensions = [""]
    else:
        pathext = os.environ.get("PATHEXT") or ".COM;.EXE;.BAT;.CMD"
        extensions = [ext.lower() for ext in pathext.split(";") if ext]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        folder = folder.strip().strip('"')
        for extension in extensions if folder else ():
            candidate = os.path.join(folder, command + extension)
            if os.path.isfile(candidate):
                return candidate
    return None


def file_identity(path):
    """What tells two paths to one file apart from two files: device and file number where the
    system gives them (git.EXE and git.exe, C:\\PROGRA~1 and C:\\Program Files are one file on
    Windows), else the path as this system compares paths."""
    try:
        status = os.stat(path)
        if status.st_ino:
            return (status.st_dev, status.st_ino)
    except OSError:
        pass
    return windows_key(path) if on_windows() else os.path.normpath(path)


def is_app_bundle(path):
    """True for a macOS application folder (Name.app), which is found but not run."""
    return path.endswith(".app") and os.path.isdir(os.path.join(path, "Contents"))


def excluded_folders(check):
    """The folders whose executables do not count for check, as Windows keys."""
    return [windows_key(folder) for pattern in check.not_under for folder in expand_location(pattern)]


def locate(check, ignored=None):
    """List the existing executables for a command check: PATH matches first, then usual places.
    Those in the check's not_under folders are left out (and appended to ignored, if given)."""
    found = [find_on_path(command) for command in check.commands]
    for pattern in check.paths:
        found.extend(expand_location(pattern))
    excluded = excluded_folders(check) if on_windows() else []
    unique, identities = [], set()
    for path in found:
        if not path or not (is_app_bundle(path) or (os.path.isfile(path) and os.access(path, os.X_OK))):
            continue
        identity = file_identity(path)
        if identity in identities:
            continue
        identities.add(identity)
        if any(windows_key(path).startswith(folder + "\\") for folder in excluded):
            if ignored is not None:
                ignored.append(path)
            continue
        unique.append(path)
    return unique


def fix_text(check, situation, minimum=None):
    """The catalog's fix for a failed check: situation is install, upgrade, timed_out or reinstall.
    A fix that types the interpreter types it as the learner starts it, for their shell (one
    line per shell when it is not known); a Python package's install or upgrade says where
    packages are checked."""
    template = FIXES[situation][check.kind]
    if situation == "install":
        template = check.install_on.get(platform.system(), check.install or template)
    forms = command_forms(interpreter_words()) if PYTHON_PLACEHOLDER in template else [(None, None)]
    texts = []
    for shells, python in forms:
        text = template.format(human=check.human, url=check.url, minimum=minimum,
                               module=check.module, distribution=check.distribution,
                               python=python)
        texts.append(f"In {shells}: {text}" if shells else text)
    if check.kind == "module" and situation in ("install", "upgrade") \
            and not in_conda_environment(WORKSHOP_ENVIRONMENT):
        notes = NOTES["conda_environment"]
        texts.append(notes.get(platform.system(), notes["other"]))
    return "\n".join(texts)


def in_conda_environment(name):
    """True when this script runs with the Python of the conda environment called name."""
    folder = re.split(r"[\\/]", os.path.normpath(sys.prefix))[-1]
    return os.environ.get("CONDA_DEFAULT_ENV") == name or folder == name


def install_hint(check):
    """Tell how to install the tool of a check that was not found."""
    return fix_text(check, "install")


def upgrade_hint(check, minimum):
    """Tell how to get a new enough version of a check's tool."""
    return fix_text(check, "upgrade", minimum)


def apple_developer_tools_hint(check):
    """The fix for Apple's stand-in of a developer tool (/usr/bin/git, /usr/bin/make)."""
    return NOTES["developer_tools"].format(url=check.url)


def version_of_location(check, path):
    """The version of a tool that is found but not run: from its path (openrefine-3.8.2), or
    from a macOS app's Info.plist; None when neither tells."""
    for where in (path, os.path.realpath(path)) if check.version_in_path else ():
        match = re.search(check.version_in_path, where)  # ~/bin/refine may link to the folder
        if match:
            return match.group(1)
    if is_app_bundle(path):
        try:
            with open(os.path.join(path, "Contents", "Info.plist"), "rb") as stream:
                version = plistlib.load(stream).get("CFBundleShortVersionString")
        except (OSError, ValueError, AttributeError, plistlib.InvalidFileException):
            return None
        return str(version) if version else None
    return None


def not_found(check, ignored=()):
    """The failure of a command check whose tool was found nowhere (or only where it does not count)."""
    where = "on PATH" if not check.paths else "on PATH or in the usual install locations"
    problem = f"not found {where}"
    if ignored and check.not_under_note:
        problem += " (" + "; ".join(NOTES[check.not_under_note].format(path=path) for path in ignored) + ")"
    return Result(check).fail("not found", problem, install_hint(check))


def find_command(check, verbose):
    """Run the first located executable of a command check that reports a version."""
    ignored = []
    executables = locate(check, ignored)
    if not executables:
        return not_found(check, ignored)
    if check.args is None:  # found, not run: the newest copy counts (an old download may linger)
        found = [(version_of_location(check, path), path) for path in executables]
        version, path = max(found, key=lambda item: version_tuple(item[0]) or ())
        return Result(check, version, found=path)
    first_failure = None
    for executable in executables:
        result = Result(check, found=executable)
        shown = " ".join([os.path.basename(executable)] + list(check.args))
        try:
            code, output = run_command([executable] + list(check.args), COMMAND_TIMEOUT, verbose)
        except subprocess.TimeoutExpired:
            result.fail("timed out", f"'{shown}' did not finish within {COMMAND_TIMEOUT} s",
                        fix_text(check, "timed_out"))
        except OSError as error:
            result.fail(f"could not run: {error}", f"found {executable} but could not run it ({error})",
                        fix_text(check, "reinstall"))
        else:
            match = re.search(check.pattern, output)
            if match:
                result.version = match.group(1).strip()
                return result
            last = last_line(output, "no output")
            if platform.system() == "Darwin" and APPLE_STUB_OUTPUT.search(output):
                result.fail("not found: Apple's command line developer tools are not installed",
                            f"{executable} is only Apple's stand-in until the command line "
                            f"developer tools are installed ({last})",
                            apple_developer_tools_hint(check))
            else:
                result.fail(f"no version in output of '{shown}' (exit code {code}): {last}",
                            f"'{shown}' did not report a version (exit code {code}): {last}",
                            fix_text(check, "reinstall"))
        first_failure = first_failure or result
    return first_failure


def ask_helper(result, argv, timeout, verbose, shown, slow, program):
    """Run a helper (Python, Rscript, conda) that answers for result's check; return (exit
    code, output), or None when it failed the check by timing out (slow says what took too
    long) or not starting (program names it)."""
    try:
        return run_command(argv, timeout, verbose, shown)
    except subprocess.TimeoutExpired:
        result.fail("timed out", f"{slow} took more than {timeout} s", fix_text(result.check, "timed_out"))
    except OSError as error:
        result.fail(f"could not run {program}: {error}", f"could not run {argv[0]} ({error})",
                    fix_text(result.check, "reinstall"))
    return None


def last_line(output, empty):
    """The last line of a command's output, or empty when it printed nothing."""
    return (output.strip().splitlines() or [empty])[-1].strip()


def marked(output, marker):
    """The values on the lines of output that start with marker, in order."""
    return [line[len(marker):].strip() for line in output.splitlines() if line.startswith(marker)]


def find_module(check, verbose):
    """Import a check's module in a child of this Python and read its version."""
    python = interpreter()
    argv = [python, "-c", MODULE_VERSION_CODE, check.module, check.attribute,
            check.distribution, VERSION_MARKER]
    shown = f'{python} -c "import {check.module}; print({check.module}.{check.attribute})"'
    result = Result(check, found=python)
    answer = ask_helper(result, argv, IMPORT_TIMEOUT, verbose, shown, f"importing {check.module}", "Python")
    if answer is None:
        return result
    code, output = answer
    versions = marked(output, VERSION_MARKER)
    if versions:
        result.version = versions[0] or None
        return result
    last = last_line(output, f"exit code {code}")
    if f"No module named '{check.module.split('.')[0]}'" in output:
        return result.fail("not found", f"not installed for {python} ({last})", install_hint(check))
    return result.fail(f"import failed: {last}", f"'import {check.module}' failed: {last}",
                       fix_text(check, "reinstall"))


def rscript_locations():
    """The Rscript programs beside the R installations the r check finds."""
    found = []
    for path in locate(CHECK_TABLE["r"]):
        folder, name = os.path.split(path)
        rscript = os.path.join(folder, "Rscript" + os.path.splitext(name)[1])
        if os.path.isfile(rscript) and rscript not in found:
            found.append(rscript)
    return found


def find_r_package(check, verbose):
    """Ask R (through Rscript) for an R package's version, loading it to see that it works."""
    rscripts = rscript_locations()
    if not rscripts:
        return Result(check).fail("R not found", f"R is not installed (no Rscript found), so "
                                  f"{check.distribution} cannot be checked",
                                  install_hint(CHECK_TABLE["r"]))
    argv = [rscripts[0], "-e", R_PACKAGE_CODE, check.distribution, VERSION_MARKER, R_PROBLEM_MARKER]
    shown = f"{os.path.basename(rscripts[0])} -e \"packageVersion('{check.distribution}')\""
    result = Result(check, found=rscripts[0])
    answer = ask_helper(result, argv, IMPORT_TIMEOUT, verbose, shown, f"loading {check.distribution}", "Rscript")
    if answer is None:
        return result
    code, output = answer
    versions, problems = marked(output, VERSION_MARKER), marked(output, R_PROBLEM_MARKER)
    if not versions:
        last = last_line(output, f"exit code {code}")
        return result.fail(f"Rscript failed: {last}", f"Rscript did not answer (exit code {code}): {last}",
                           fix_text(check, "reinstall"))
    if not versions[0]:
        return result.fail("not found", f"not installed for R ({rscripts[0]})", install_hint(check))
    result.version = versions[0]
    if problems:
        return result.fail(f"load failed: {problems[0]}", f"library({check.distribution}) failed: {problems[0]}",
                           fix_text(check, "reinstall"))
    return result


def find_conda_env(check, verbose):
    """Find the conda environment a check names among those conda lists."""
    condas = locate(CHECK_TABLE["conda"])
    if not condas:
        return Result(check).fail("conda not found", "conda (Miniforge) is not installed, so it has "
                                  f"no {check.environment} environment", install_hint(CHECK_TABLE["conda"]))
    result = Result(check, found=condas[0])
    shown = f"{os.path.basename(condas[0])} env list --json"
    answer = ask_helper(result, [condas[0], "env", "list", "--json"], COMMAND_TIMEOUT, verbose, shown,
                        f"'{shown}'", "conda")
    if answer is None:
        return result
    code, output = answer
    try:
        listed = json.loads(output[output.index("{"):output.rindex("}") + 1])["envs"]
        names = [re.split(r"[\\/]", str(path).rstrip("\\/"))[-1] for path in listed]
    except (ValueError, KeyError, TypeError):
        last = last_line(output, f"exit code {code}")
        return result.fail(f"no environment list from '{shown}' (exit code {code}): {last}",
                           f"'{shown}' did not list the environments (exit code {code}): {last}",
                           fix_text(check, "reinstall"))
    if check.environment in names:
        result.found = listed[names.index(check.environment)]
        return result
    others = ", ".join(names[1:]) or "none"
    return result.fail("not found", f"conda has no environment called {check.environment} "
                       f"(its other environments: {others})", install_hint(check))


def find_any(check, verbose):
    """Pass with the first alternative that passes; fail listing why each one failed."""
    reasons = []
    for name in check.alternatives_on.get(platform.system(), check.alternatives):
        alternative = CHECK_TABLE[name]
        found = run_check(alternative, alternative.minimum, verbose)
        if found.passed:
            return Result(check, found.version, found=alternative.human)
        reasons.append(f"{name}: {found.error}")
    reason = "none found: " + "; ".join(reasons)
    return Result(check).fail(reason, reason, install_hint(check))


def judge(result, minimum):
    """Fail a found tool whose version is unknown or older than minimum."""
    if not result.passed or minimum is None:
        return result
    check = result.check
    if version_tuple(result.version) is None:
        return result.fail("version unknown",
                           f"could not tell which version of {check.human} this is; {minimum} or newer needed",
                           upgrade_hint(check, minimum))
    if not version_at_least(result.version, minimum):
        return result.fail(f"version {result.version} < required {minimum}",
                           f"{check.human} {result.version} found, {minimum} or newer needed",
                           upgrade_hint(check, minimum))
    return result


def require(result, verbose):
    """Fail a found tool when a check it needs on this system fails (OpenRefine without Java)."""
    for name in result.check.requires_on.get(platform.system(), ()) if result.passed else ():
        needed = run_check(CHECK_TABLE[name], CHECK_TABLE[name].minimum, verbose)
        if not needed.passed:
            return result.fail(f"needs {name}: {needed.error}",
                               f"{result.check.human} needs {needed.check.human}: {needed.problem}",
                               needed.hint)
    return result


def run_check(check, minimum, verbose=False):
    """Run one check of any kind and judge what it found against minimum."""
    finders = {"command": find_command, "module": find_module, "any": find_any,
               "r-package": find_r_package, "conda-env": find_conda_env}
    return require(judge(finders[check.kind](check, verbose), minimum), verbose)


def describe_pass(result):
    """Say what a passing check found, e.g. "2.39.2" or "GNU nano 7.2"."""
    text = result.version or "found (version not checked)"
    if result.check.kind == "conda-env":
        text = f"found at {result.found}"
    elif result.check.kind == "any":
        text = f"{result.found} {result.version or ''}".strip()
    return text


def show_result(result, verbose):
    """Print the pass/fail/warning line of one check, with the fix for a failure."""
    if result.passed:
        shows_path = verbose and result.found and result.check.kind != "any"
        where = f"  [{result.found}]" if shows_path else ""
        say(f"[ OK ] {result.check.label}: {describe_pass(result)}{where}")
        return
    tag, note = ("WARN", " (optional)") if result.optional else ("FAIL", "")
    say(f"[{tag}] {result.check.label}: {result.problem}{note}")
    fix = DETAIL_INDENT + "Fix: "
    say(fix + result.hint.replace("\n", "\n" + " " * len(fix)))


def run_checks(planned, verbose):
    """Run the planned checks in order, printing each result as soon as it is known."""
    results = []
    for item in planned:
        if verbose:
            say(f"Checking {item.check.label}...")
        result = run_check(item.check, item.minimum, verbose)
        result.optional = item.optional
        show_result(result, verbose)
        results.append(result)
    return results


def summarize(results):
    """Print the totals and a re-test command; return the exit code (1 if a required check failed)."""
    failed = [r for r in results if not r.passed and not r.optional]
    warned = [r for r in results if not r.passed and r.optional]
    passed = len(results) - len(failed) - len(warned)
    say()
    say(f"{passed} passed, {len(failed)} failed, {len(warned)} warning(s).")
    if failed:
        say(f"Please fix the failed checks using the hints above, then re-test them with: "
            f"{rerun_command(r.check.name for r in failed)}")
        return 1
    say("All required checks passed." if results else "No checks were run.")
    return 0


def rerun_command(arguments):
    """The command that runs this script again with arguments, as the learner ran it: the
    interpreter as they start it (interpreter_words), the script's path as they typed it,
    quoted for their shell; one form per shell when the shell is not known."""
    script = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else "check.py"
    forms = command_forms(interpreter_words() + [script] + list(arguments))
    return ", or ".join(f"{line} (in {shells})" if shells else line for shells, line in forms)


def show_advice(answer, results):
    """Under each failed check's fix, what learners on the same system who failed it did, as
    the server's answer tells (nothing when it says nothing). Its texts come from other
    learners' machines: they are cleaned before they reach this terminal."""
    entries = answer.get("advice") if isinstance(answer, dict) else None
    failed = {r.check.label: r for r in results if not r.passed}
    shown = []
    for entry in entries if isinstance(entries, list) else []:
        result = failed.get(entry.get("name")) if isinstance(entry, dict) else None
        line = advice_line(entry, result.check.human) if result else None
        if line:
            shown.append((result, line))
    if shown:
        say()
        say("What learners on your system who had the same problem did:")
    for result, line in shown:
        show_result(result, verbose=False)
        say(DETAIL_INDENT + line)


def advice_line(entry, human):
    """ "38 of 45 learners on Windows fixed this, half of them within 2 hours; most ended with
    Git 2.43." from one entry of the answer's advice; None when the entry is not one."""
    failed, fixed = entry.get("failed_learners"), entry.get("fixed_learners")
    median, fixed_with = entry.get("median_seconds_to_fix"), entry.get("fixed_with")
    if not (is_count(failed) and is_count(fixed) and failed > 0):
        return None
    system = clean_text(str(entry.get("system") or "your system"))
    if not fixed:
        return f"None of {failed} learners on {system} has fixed this yet."
    line = f"{fixed} of {failed} learners on {system} fixed this"
    if is_count(median):
        line += f", half of them within {duration(median)}"
    # Versions count by major.minor (2.43.0 and 2.43.1 are both "Git 2.43"), most learners first.
    counts = collections.OrderedDict()
    for item in fixed_with if isinstance(fixed_with, list) else []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and is_count(item[1]):
            version = short_version(clean_text(item[0]))
            if version:
                counts[version] = counts.get(version, 0) + item[1]
    if counts:
        line += f"; most ended with {human} {max(counts, key=counts.get)}"
    return line + "."


def is_count(value):
    """Whether value is a whole number of learners or seconds (JSON's true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def short_version(version):
    """A dotted version shortened to major.minor ("2.43.0.windows.1" is "2.43"); others as they are."""
    match = re.match(r"(\d+\.\d+)(?:\.|$)", version)
    return match.group(1) if match else version


def duration(seconds):
    """A time to fix in words: "1 minute", "25 minutes", "2 hours", "3 days"."""
    for unit, size, up_to in (("minute", 60, 60), ("hour", 3600, 48), ("day", 86400, None)):
        count = max(1, round(seconds / size))
        if up_to is None or count < up_to:
            return plural(count, unit)


# ---------------------------------------------------------------- choosing checks

def configured_specs():
    """Return the check specs to run by default: the server's CHECKS, else DEFAULT_CHECKS."""
    if CHECKS is None:
        return DEFAULT_CHECKS
    if not isinstance(CHECKS, list):
        warn("the server's CHECKS setting is not a list; using the default checks")
        return DEFAULT_CHECKS
    return CHECKS


def plan_checks(specs):
    """Resolve check specs to Planned checks, warning about and skipping bad or unknown ones."""
    planned, seen = [], set()
    for spec in specs:
        try:
            name, minimum, optional = parse_check_spec(spec)
        except ValueError as error:
            warn(f"{error}; skipped")
            continue
        if name not in CHECK_TABLE:
            warn(f"unknown check {name!r} (maybe this script is older than the server's list); skipped")
            continue
        if name not in seen:
            seen.add(name)
            planned.append(Planned(CHECK_TABLE[name], minimum or CHECK_TABLE[name].minimum, optional))
    return planned


def select_checks(requested):
    """Plan the checks named on the command line (all configured ones when none); ValueError if unknown."""
    configured = plan_checks(configured_specs())
    if not requested:
        return configured
    by_name = {item.check.name: item for item in configured}
    planned = []
    for spec in requested:
        name, minimum, optional = parse_check_spec(spec)
        if name not in CHECK_TABLE:
            raise ValueError(f"unknown check {name!r}; run with --list to see the available checks")
        if minimum is None and not optional and name in by_name:
            planned.append(by_name[name])
        else:
            planned.append(Planned(CHECK_TABLE[name], minimum or CHECK_TABLE[name].minimum, optional))
    return planned


def print_list():
    """Show every available check with its default minimum and its role in this run."""
    configured = {item.check.name: item for item in plan_checks(configured_specs())}
    say("Available checks (name, what, default minimum version, role in a run without names):")
    for check in CHECK_TABLE.values():
        minimum = f">={check.minimum}" if check.minimum else "-"
        item = configured.get(check.name)
        role = "-"
        if item is not None:
            role = "optional" if item.optional else "required"
            if item.minimum != check.minimum:
                role += f" (>={item.minimum})"
        say(f"  {check.name:<18} {check.human:<23} {minimum:<8} {role:<10} {check.describe()}")


# ---------------------------------------------------------------- the stored key

def config_dir():
    """Return the folder keeping the key: $SWC_CHECK_CONFIG_DIR, else the platform's config folder."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return override
    if on_windows():
        base = os.environ.get("APPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Roaming")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, CONFIG_SUBDIR)


def key_path():
    """Return the path of the file holding the key the server gave us."""
    return os.path.join(config_dir(), KEY_FILE)


def load_key():
    """Return the stored key, or None when there is none or it is not a uuid."""
    try:
        with open(key_path(), encoding="ascii", errors="replace") as stream:
            key = stream.read().strip()
    except OSError:
        return None
    return key if UUID_PATTERN.fullmatch(key) else None


def save_key(key):
    """Store the server's key (a uuid) in the config folder; never in the working directory."""
    folder = config_dir()
    if not os.path.isabs(folder) and CONFIG_DIR_ENV not in os.environ:
        warn(f"could not find your home folder; the key {key} was not stored")
        return False
    try:
        os.makedirs(folder, exist_ok=True)
        temporary = key_path() + ".tmp"
        with open(temporary, "w", encoding="ascii") as stream:
            stream.write(key)
        os.replace(temporary, key_path())
    except OSError as error:
        warn(f"could not store the key in {folder} ({error})")
        return False
    return True


def forget_key():
    """Delete the stored key so that the next report starts a new identity."""
    try:
        os.remove(key_path())
        say(f"Forgot the stored key ({key_path()}); the next report starts a new identity.")
    except FileNotFoundError:
        say("No stored key to forget; the next report starts a new identity.")
    except OSError as error:
        warn(f"could not delete {key_path()} ({error})")


# ---------------------------------------------------------------- reports kept for later

Kept = collections.namedtuple("Kept", "path server checked_at report")


def pending_folder():
    """Return the folder where reports that could not be delivered wait."""
    return os.path.join(config_dir(), PENDING_FOLDER)


def kept_reports():
    """The reports waiting to be sent, oldest check first; a file that is not one is dropped."""
    folder = pending_folder()
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    except OSError:
        return []
    kept = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as stream:
                entry = json.load(stream, object_pairs_hook=collections.OrderedDict)
            report = collections.OrderedDict(entry["report"])
            kept.append(Kept(path, str(entry["server"]), str(report["checked_at"]), report))
        except (OSError, ValueError, KeyError, TypeError) as error:
            warn(f"dropped {path}: not a report this script kept ({error})")
            drop_file(path)
    return kept


def drop_file(path):
    """Delete a file this script wrote, warning when that fails."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        warn(f"could not delete {path} ({error})")


def keep_report(server, report):
    """Keep a report for a later run (readable by this user only, as the key), under the time
    it was checked; drop the oldest beyond MAX_PENDING; return whether it was kept."""
    folder = pending_folder()
    if not os.path.isabs(folder) and CONFIG_DIR_ENV not in os.environ:
        warn("could not find your home folder, so these results were not kept for later")
        return False
    stamp = str(report["checked_at"]).replace("-", "").replace(":", "")
    path = os.path.join(folder, f"{stamp}-{int(time.time() * 1000000)}-{os.getpid()}.json")
    entry = collections.OrderedDict([("server", server), ("report", report)])
    try:
        os.makedirs(folder, exist_ok=True)
        descriptor = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", encoding="utf-8") as stream:
            json.dump(entry, stream, indent=2)
        os.replace(path + ".tmp", path)
    except OSError as error:
        warn(f"could not keep these results in {folder} ({error})")
        return False
    for old in kept_reports()[:-MAX_PENDING]:
        drop_file(old.path)
        say(f"Dropped the report checked at {old.checked_at}: at most {MAX_PENDING} are kept.")
    return True


def same_server(base, other):
    """Whether two server URLs name the same host (http and https, any port, as a redirect may)."""
    return urllib.parse.urlsplit(base).hostname == urllib.parse.urlsplit(other).hostname


def send_kept(server, no_report=False):
    """Send the reports kept for this server, oldest first, before anything else; stop at the
    first that cannot be delivered (the server's order of attempts stays the order of checks).
    Return True when none for this server is left waiting."""
    kept = kept_reports()
    mine = [entry for entry in kept if same_server(entry.server, server.base)]
    others = collections.Counter(entry.server for entry in kept
                                 if not same_server(entry.server, server.base))
    for base, count in sorted(others.items()):
        say(f"{plural(count, 'report')} kept for {base} {'waits' if count == 1 else 'wait'} for "
            f"a run with --host {base} (--forget drops {'it' if count == 1 else 'them'}).")
    if not mine:
        return True
    say(f"Sending {plural(len(mine), 'report')} you agreed to send earlier, which could not be "
        f"delivered then, to {server.url(REPORT_PATH)} ...")
    if no_report:
        say("(--no-report keeps this run's results to yourself; these you agreed to send before.)")
    for done, entry in enumerate(mine):
        outcome, _ = deliver(server, entry.report, f"Sent the report checked at {entry.checked_at}")
        if outcome == UNDELIVERED:
            left = len(mine) - done
            say(f"{plural(left, 'report')} {'stays' if left == 1 else 'stay'} kept in "
                f"{pending_folder()} for your next run (or: {send_pending_command(server)}).")
            return False
        drop_file(entry.path)
        if outcome == REFUSED:
            say(f"Dropped the report checked at {entry.checked_at}: the server refused it, and "
                "sending it again would not change that.")
    return True


def drop_kept():
    """Delete every report waiting to be sent (--forget); say how many."""
    kept = kept_reports()
    for entry in kept:
        drop_file(entry.path)
    if kept:
        say(f"Dropped {plural(len(kept), 'report')} that waited to be sent.")


def send_pending_command(server):
    """The command that sends the kept reports to server now."""
    host = [] if server.base == SERVER_URL.rstrip("/") else ["--host", server.base]
    return rerun_command(["--send-pending"] + host)


def plural(count, noun):
    """ "1 report", "2 reports"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------- what is sent

def read_os_release(paths=("/etc/os-release", "/usr/lib/os-release")):
    """Return (NAME, VERSION_ID) from the first readable os-release file; missing values are None."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                lines = stream.read().splitlines()
        except OSError:
            continue
        fields = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                try:
                    value = " ".join(shlex.split(value))
                except ValueError:
                    value = value.strip().strip("\"'")
                fields[key.strip()] = value
        return fields.get("NAME") or None, fields.get("VERSION_ID") or None
    return None, None


def distribution():
    """Return (distribution_name, distribution_version) for this operating system."""
    system = platform.system()
    if system == "Darwin":
        return "macOS", platform.mac_ver()[0] or None
    if system == "Windows":
        release, build = platform.win32_ver()[:2]
        edition = getattr(platform, "win32_edition", lambda: "")()  # Python 3.8+
        return "Windows", windows_release(release, build, edition) or platform.version() or None
    name, version = read_os_release()
    if name is None:
        return system or None, platform.release() or None
    return name, version


def system_info(workshop, email):
    """Describe this computer in the server's user_system_info format."""
    name, version = distribution()
    return collections.OrderedDict([
        ("distribution_name", name),
        ("distribution_version", version),
        ("system", platform.system()),
        ("system_version", platform.version()),
        ("machine", platform.machine()),
        ("system_platform", platform.platform()),
        ("python_version", platform.python_version()),
        ("workshop_id", workshop),
        ("email_id", email),
    ])


# Text a machine printed is sent cleaned as the server cleans it at ingestion (RULES: terminal
# escapes, controls and direction marks removed; one-line fields on one line), so what the
# learner is shown is what the server stores. Unicode's White_Space, which the server's trim
# strips (str.strip() alone would also strip U+001C-U+001F):
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# A terminal's escape sequences: CSI (ESC [ parameters final), OSC (ESC ] ... BEL or ESC \, or
# the line's end), nF (ESC intermediates final) and other two-byte ones; a sequence cut short
# ends where its grammar stops, so a stray ESC never swallows the text after it.
TERMINAL_ESCAPE = re.compile("\x1b(?:\\[[\x20-\x3f]*[\x40-\x7e]?|\\][^\x07\x1b\n\r]*(?:\x07|\x1b\\\\?)?"
                             "|[\x20-\x2f]+[\x30-\x7e]?|[\x30-\x7e])?")
# Controls but TAB, LF and CR (C0, DEL, C1), direction controls, the byte-order mark.
REMOVED_CHARACTERS = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f"
                                "\u202a-\u202e\u2066-\u2069\ufeff]")
LINE_BREAKS = re.compile("[\n\u2028\u2029]")
# What cleaning would remove or change in a one-line field: a workshop id may not hold it.
UNCLEAN_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                               "\ufeff\u2028\u2029]")
MAX_WORKSHOP_ID_CHARS = 500  # the server's limit for every user_system_info field
MAX_EMAIL_CHARS = 254
MAX_EMAIL_LOCAL_CHARS = 64
EMAIL_FORBIDDEN = re.compile('[\\s<>()\\[\\]\\\\,;:"\x00-\x1f\x7f-\x9f]')


def clean_text(text, one_line=True):
    """text as the server stores it (RULES.md): terminal escapes and controls removed, CR LF
    and CR read as LF; a one-line field's line breaks and tabs become spaces, its ends trimmed."""
    text = REMOVED_CHARACTERS.sub("", TERMINAL_ESCAPE.sub("", text).replace("\r\n", "\n").replace("\r", "\n"))
    if not one_line:
        return text
    lines = (line.strip(" \t") for line in LINE_BREAKS.split(text))
    return " ".join(line for line in lines if line).replace("\t", " ").strip(WHITE_SPACE)


def home_stand_ins(windows=None, environ=None):
    """[(pattern, stand-in)] for the learner's home folder as a text may show it, longest
    first: ~ for it, on Windows %USERPROFILE% (there in any case and either slash style)."""
    windows = on_windows() if windows is None else windows
    environ = os.environ if environ is None else environ
    if windows:
        folders = [environ.get("USERPROFILE", ""), environ.get("HOMEDRIVE", "") + environ.get("HOMEPATH", "")]
        absolute, separator, stand_in, flags = r"[A-Za-z]:[\\/]|[\\/]{2}", r"[\\/]+", "%USERPROFILE%", re.IGNORECASE
    else:
        folders = [environ.get("HOME", "")]
        try:
            import pwd
            folders.append(pwd.getpwuid(os.getuid()).pw_dir)
        except (ImportError, KeyError, AttributeError):
            pass
        folders += [os.path.realpath(folder) for folder in folders if folder]
        absolute, separator, stand_in, flags = "/", "/+", "~", 0
    patterns = set()
    for folder in folders:
        parts = [re.escape(part) for part in re.split(separator, folder) if part]
        # A root ("/", "C:\\") or a relative folder names nobody.
        if re.match(absolute, folder) and len(parts) >= (2 if windows else 1):
            patterns.add(("" if windows else separator) + separator.join(parts))
    # Not the start of a longer name: /home/jo is not in /home/joan or /home/jo.old.
    return [(re.compile(pattern + r"(?![\w-]|\.\w)", flags), stand_in)
            for pattern in sorted(patterns, key=len, reverse=True)]


def report_text(text, stand_ins, one_line=True):
    """A text of the report as sent: cleaned, with the learner's home folder replaced (so
    the names in paths never leave the computer); None stays None."""
    if text is None:
        return None
    text = clean_text(str(text), one_line)
    for pattern, stand_in in stand_ins:
        text = pattern.sub(lambda match: stand_in, text)
    return text if one_line else text.strip(WHITE_SPACE)


def utc_now():
    """This moment in RFC 3339, UTC, to the second: 2026-12-03T09:41:07Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def normalize_email(text):
    """The address in text, normalised as the server does (RULES.md), or None when it is not
    one: surrounding whitespace and a leading mailto: dropped; from "Jane <jane@uni.edu>" the
    part inside the last angle brackets; then at most 254 characters, exactly one @ with 1 to
    64 characters before it, a domain with a dot neither first nor last, and no whitespace,
    control or any of <>()[]\\,;:" anywhere."""
    address = text.strip(WHITE_SPACE)
    if address[:7].lower() == "mailto:":
        address = address[7:]
    opening = address.rfind("<")
    closing = address.find(">", opening + 1)
    if opening >= 0 and closing >= 0:
        address = address[opening + 1:closing].strip(WHITE_SPACE)
    local, _, domain = address.partition("@")
    valid = (len(address) <= MAX_EMAIL_CHARS and 1 <= len(local) <= MAX_EMAIL_LOCAL_CHARS
             and address.count("@") == 1 and "." in domain[1:-1]
             and not EMAIL_FORBIDDEN.search(address))
    return address if valid else None


def parse_workshop_id(text):
    """The workshop id in text, by the server's one rule (RULES.md): trimmed, not empty, at
    most 500 characters, nothing in it that cleaning would remove or change; ValueError saying
    why otherwise (never echoing the text, which may hold terminal escapes)."""
    workshop = text.strip(WHITE_SPACE)
    if not workshop:
        raise ValueError("a workshop id may not be empty")
    if len(workshop) > MAX_WORKSHOP_ID_CHARS:
        raise ValueError(f"a workshop id may hold at most {MAX_WORKSHOP_ID_CHARS} characters, "
                         f"not {len(workshop)}")
    unclean = UNCLEAN_CHARACTER.search(workshop)
    if unclean:
        raise ValueError("a workshop id may not hold control, line-break or direction characters "
                         f"(U+{ord(unclean.group()):04X} at position {unclean.start() + 1})")
    return workshop


def build_payload(results, workshop, email, key, checked_at=None):
    """Build the JSON document for POST /installation_data/ from the check results, every text
    cleaned and without the home folder (workshop and email were checked when given), and the
    time the checks ran (RFC 3339 UTC: the server takes it as the attempt's time, so a report
    delivered a day late still counts when it was checked)."""
    homes = home_stand_ins()
    successes = [collections.OrderedDict([("name", report_text(r.check.label, homes)),
                                          ("version", report_text(r.version, homes))])
                 for r in results if r.passed]
    failures = [collections.OrderedDict([("name", report_text(r.check.label, homes)),
                                         ("version", report_text(r.version, homes)),
                                         ("error_description", report_text(r.error, homes, False))])
                for r in results if not r.passed]
    info = system_info(workshop, email)
    for field, value in info.items():
        if field not in ("workshop_id", "email_id"):
            info[field] = report_text(value, homes)
    return collections.OrderedDict([
        ("user_system_info", info),
        ("successful_installs", successes),
        ("failed_installs", failures),
        ("unique_user_id", key),
        ("checked_at", checked_at or utc_now()),
    ])


# ---------------------------------------------------------------- sending

# Where reports are posted, under the server's base URL (and deleted, followed by the key and /).
REPORT_PATH = "/installation_data/"
# Redirects a POST or DELETE is repeated for: urllib itself would repeat a redirected POST as a
# GET (301, 302), which the server answers with 405, and refuses to follow a DELETE at all.
REDIRECT_CODES = (301, 302, 307, 308)


class RedirectRefused(Exception):
    """A redirect this script does not follow: to another host, from https to http, a second
    one in a row, or one without a Location."""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back as an HTTPError, so that Server decides what to repeat."""

    def redirect_request(self, *args, **kwargs):
        """Follow nothing."""
        return None


def same_host_target(url, location):
    """Return the absolute URL a redirect from url to location points to, or raise
    RedirectRefused when a report sent there could leave the host the learner chose or lose
    its encryption (http to https of the same host is fine; any port)."""
    if not location:
        raise RedirectRefused(f"the server at {url} answered with a redirect without a Location")
    target = urllib.parse.urljoin(url, location.strip())
    old, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(target)
    if new.scheme not in ("http", "https") or (new.hostname or "") != (old.hostname or ""):
        raise RedirectRefused(f"the server at {url} redirected to {target}, another host; "
                              "nothing was sent there")
    if old.scheme == "https" and new.scheme == "http":
        raise RedirectRefused(f"the server at {url} redirected to {target}, which is not "
                              "encrypted; nothing was sent there")
    return target


class Server(object):
    """The server this run talks to. A POST or DELETE answered with a redirect to the same
    host is repeated once, with the same method and body, and later requests of this run go
    straight to the new place (so an http URL costs one clear-text request, not one each)."""

    def __init__(self, host):
        self.base = host.rstrip("/")

    def post(self, path, body):
        """POST the JSON text body to path; return the answer's text. HTTPError when the server
        refuses, RedirectRefused, other urllib/OSError when it cannot be reached."""
        return self.request("POST", path, body.encode("utf-8"))

    def delete(self, path):
        """Send DELETE to path; errors as for post."""
        return self.request("DELETE", path)

    def url(self, path):
        """The full URL of path on this server."""
        return self.base + path

    def request(self, method, path, data=None):
        """Send one request, repeating it once where a redirect to the same host points."""
        url, redirected = self.url(path), False
        while True:
            try:
                return self.send(method, url, data)
            except urllib.error.HTTPError as error:
                if error.code not in REDIRECT_CODES:
                    raise
                error.close()
                location = error.headers.get("Location")
            if redirected:
                raise RedirectRefused(f"the server at {url} redirected again, to {location}; "
                                      "nothing more was sent")
            target = same_host_target(url, location)
            self.moved(url, target, path)
            url, redirected = target, True

    @staticmethod
    def send(method, url, data):
        """One HTTP request without following redirects; return the answer's text."""
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        # A new opener each time: it reads the proxy and certificate settings of the moment.
        with urllib.request.build_opener(NoRedirects).open(request, timeout=NETWORK_TIMEOUT) as response:
            return response.read().decode("utf-8", "replace")

    def moved(self, url, target, path):
        """Remember where the server went and tell the learner which URL to use next time."""
        if not target.endswith(path):
            say(f"The server sent {url} on to {target}.")
            return
        new_base = target[:len(target) - len(path)]
        if new_base == self.base:
            return
        self.base = new_base
        say(f"The server moved to {new_base}; next time use --host {new_base} "
            f"(or download check.py again from {new_base}/check.py).")


def explain_refusal(error, url, refused="accept the results"):
    """Print why the server answered with an HTTP error (error and detail, or when to retry)."""
    try:
        answer = json.loads(error.read().decode("utf-8", "replace"))
    except (OSError, ValueError, http.client.HTTPException):
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if error.code == 429:
        retry = error.headers.get("Retry-After") if error.headers else None
        wait = f" in {retry} seconds" if retry else " later"
        say(f"The server at {url} is receiving too many reports right now; please try again{wait}.")
        return
    reason = answer.get("error") or error.reason
    detail = f": {answer['detail']}" if answer.get("detail") else ""
    say(f"The server at {url} did not {refused} (HTTP {error.code}, {reason}{detail}).")


def say_unreachable(url, error, outcome=""):
    """Print that the server at url could not be reached (outcome says what that left undone);
    when this Python could not verify the server's certificate, first what to do about it."""
    advice = explain_certificate_error(error)
    if advice:
        say(advice)
    reason = getattr(error, "reason", None) or error
    say(f"Could not reach the server at {url} ({reason}){outcome}.")


# What became of a report: delivered, refused as invalid (4xx but 429: sending it again would
# not help, so it is not kept), or not delivered now (network, timeout, 5xx, 429, a redirect not
# followed, an answer that is not the server's, as a venue's captive portal gives: kept).
SENT, REFUSED, UNDELIVERED = "sent", "refused", "undelivered"


def deliver(server, report, sent_line):
    """POST report with the key stored now (a report kept from a run before the first key
    gets the one a later send brought), store the key the server answers with, print what
    happened (sent_line on success); return (outcome, the server's answer or None)."""
    sent_key = load_key()
    report["unique_user_id"] = sent_key
    try:
        text = server.post(REPORT_PATH, json.dumps(report, indent=2))
    except urllib.error.HTTPError as error:
        explain_refusal(error, server.url(REPORT_PATH))
        refused = 400 <= error.code < 500 and error.code != 429
        return (REFUSED if refused else UNDELIVERED), None
    except RedirectRefused as error:
        say(f"Not sent: {error}. If the workshop's server has moved, run again with --host and "
            "its new URL.")
        return UNDELIVERED, None
    except (OSError, http.client.HTTPException, ValueError) as error:
        say_unreachable(server.url(REPORT_PATH), error)
        return UNDELIVERED, None
    url = server.url(REPORT_PATH)  # where a redirect took it
    try:
        answer = json.loads(text)
        key = answer.get("key")
        message = (answer.get("summary") or {}).get("message")
    except (ValueError, AttributeError):
        answer, key, message = None, None, None
    if not isinstance(key, str) or not UUID_PATTERN.fullmatch(key):
        say(f"The server at {url} sent an unexpected answer.")
        return UNDELIVERED, None
    say(f"{sent_line} ({message or 'ok'}).")
    if key != sent_key and save_key(key):
        if sent_key:
            say(f"The server did not know your previous key; stored the new one in {key_path()}.")
        else:
            say(f"Stored your key in {key_path()} so later reports update this one.")
    return SENT, answer


def send_results(server, report, waiting):
    """Send this run's report (after the kept ones; behind them when they are still waiting),
    keeping it for the next run when it cannot be delivered now; return the server's answer
    (None when not delivered)."""
    answer = None
    if waiting:
        say("Not sent now: the reports before it could not be delivered a moment ago, and "
            "reports go in order.")
        outcome = UNDELIVERED
    else:
        say(f"Sending to {server.url(REPORT_PATH)} ...")
        outcome, answer = deliver(server, report, "Thank you, your results were sent")
    if outcome == REFUSED:
        say("These results are not kept: the server refused them, and sending them again would "
            "not change that. Your results above are still valid.")
    elif outcome == UNDELIVERED:
        report["unique_user_id"] = None  # the key it gets is the one the learner has when it goes
        if keep_report(server.base, report):
            say(f"Your results above are still valid, and kept in {pending_folder()}: they are "
                f"sent first thing on your next run (or now: {send_pending_command(server)}).")
        else:
            say("Your results above are still valid.")
    return answer


def ask(prompt):
    """Ask a question on the terminal; return the stripped answer, '' on end of input."""
    try:
        return input(prompt).strip()
    except EOFError:
        say()
        return ""


def ask_email():
    """Ask for an optional email until the answer is empty or an address (a stray "y" is none)."""
    while True:
        answer = ask("Your email, so the instructors can contact you (optional, Enter to skip): ")
        if not answer:
            return None
        address = normalize_email(answer)
        if address:
            return address
        say("That is not an email address (like jane@uni.edu); type it again, or press Enter to skip.")


def ask_workshop():
    """Ask for an optional workshop id until the answer is empty or a valid one."""
    while True:
        answer = ask("Workshop name, e.g. 2016-08-13-place (optional, Enter to skip): ")
        if not answer:
            return None
        try:
            return parse_workshop_id(answer)
        except ValueError as error:
            say(f"That cannot be a workshop name: {error}; type it again, or press Enter to skip.")


def served_workshop():
    """The workshop id the server wrote into this script, if it is one (else None, with a warning)."""
    if WORKSHOP_ID is None:
        return None
    try:
        return parse_workshop_id(str(WORKSHOP_ID))
    except ValueError as error:
        warn(f"the workshop id this script was served with is not used: {error}")
        return None


def offer_report(results, args, server, checked_at, waiting):
    """Get consent, show exactly what would be sent, and send it (or keep it for later)."""
    if not args.yes and not interactive():
        say("Results not sent: no terminal to ask for your consent. To send them, run again "
            "with --yes (and optionally --workshop ID --email ADDR).")
        return
    workshop = args.workshop if args.workshop is not None else served_workshop()
    email = args.email
    if not args.yes:
        say()
        if workshop is None:
            workshop = ask_workshop()
        if email is None:
            email = ask_email()
    payload = build_payload(results, workshop or None, email or None, load_key(), checked_at)
    say()
    say(f"This is exactly what would be sent to {server.url(REPORT_PATH)}:")
    say(json.dumps(payload, indent=2))
    say("You can delete what you sent at any time with --forget.")
    if not args.yes and ask("Send these results? [y/N] ").lower() not in ("y", "yes"):
        say("Not sent.")
        return
    show_advice(send_results(server, payload, waiting), results)


def forget_everything(args):
    """Delete what this computer sent (by its key) from the server, then the key, and the
    reports waiting to be sent; return the exit code."""
    key = load_key()
    waiting = kept_reports()
    if key is None and not waiting:
        say(f"No key is stored in {key_path()}: nothing sent from here is known to the server "
            "by it, so there is nothing to delete.")
        return 0
    server = Server(args.host)
    path = f"{REPORT_PATH}{key}/"
    if not args.yes:
        if not interactive():
            say("Nothing deleted: no terminal to confirm. To delete, run again with --forget --yes.")
            return 1
        what = (f"everything sent from this computer (key {key}) from {server.base}, and the key "
                "itself" if key else "")
        if waiting:
            what += (" and " if what else "") + f"the {plural(len(waiting), 'report')} waiting to be sent"
        if ask(f"Delete {what}? [y/N] ").lower() not in ("y", "yes"):
            say("Nothing deleted.")
            return 0
    drop_kept()
    if key is None:
        say(f"No key is stored in {key_path()}: nothing sent from here is known to the server "
            "by it, so there is nothing more to delete.")
        return 0
    try:
        server.delete(path)
    except urllib.error.HTTPError as error:
        explain_refusal(error, server.url(path), refused="delete your data")
        say(f"Your key is kept in {key_path()}; try again later.")
        return 1
    except RedirectRefused as error:
        say(f"Nothing deleted: {error}. Your key is kept in {key_path()}; if the workshop's "
            "server has moved, run again with --host and its new URL.")
        return 1
    except (OSError, http.client.HTTPException, ValueError) as error:
        say_unreachable(server.url(path), error, "; nothing was deleted and your key is kept")
        return 1
    host = server.base
    try:
        os.remove(key_path())
    except OSError as error:
        warn(f"could not delete {key_path()} ({error})")
    say(f"Deleted: the server at {host} no longer has anything you sent, and this computer no "
        "longer has your key. A later report starts afresh.")
    return 0


# ---------------------------------------------------------------- command line

def host_url(text):
    """Accept an http(s) server base URL (argparse type)."""
    if not re.match(r"https?://[^/\s]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def email_address(text):
    """Accept an email address, normalised as the server does (argparse type)."""
    address = normalize_email(text)
    if address is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an email address (like jane@uni.edu)")
    return address


def workshop_id(text):
    """Accept a workshop id by the server's rule (argparse type)."""
    try:
        return parse_workshop_id(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))


def help_text(value):
    """A value shown in an option's help, as argparse prints it: argparse %-formats help
    strings, so a % in a workshop id or URL (100%25 in a link is 100%) must be doubled."""
    return str(value).replace("%", "%%")


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0] or "check.py"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check that the software for a Software Carpentry workshop is installed, "
                    "show how to fix what is missing, and (only if you agree) send the results "
                    "to the workshop's server.",
        epilog=f"""\
check specs:
  NAME, NAME>=VERSION, either optionally followed by ? (optional: a failure is
  only a warning). Example: {sys.argv[0] or 'check.py'} git "python>=3.10" "rstudio?"
  A bare NAME keeps the minimum from the workshop's list. Groups (shell, editor,
  jupyter, package-manager) pass when any of their alternatives passes.

sending:
  Before sending, the script shows the exact JSON and asks (y/N). It asks for
  a workshop name and an email (both optional) unless given as options.
  Nothing is sent with --no-report, or when there is no terminal to ask and
  --yes was not given. The server answers with a key kept in
  {config_dir()}
  (override the folder with ${CONFIG_DIR_ENV}) so later reports update yours.
  --forget deletes everything sent with that key from the server, then the key.

exit codes:
  0 all required checks passed (optional ones may have failed),
  1 a required check failed, 2 bad command line (e.g. unknown check).
  Network problems never change the exit code.""")
    parser.add_argument("checks", nargs="*", metavar="CHECK",
                        help="re-test only these checks (default: the workshop's list)")
    parser.add_argument("--list", action="store_true",
                        help="list the available checks with their default minimum versions and exit")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="agree to send the results without asking (no questions asked)")
    parser.add_argument("-n", "--no-report", action="store_true",
                        help="only check, never send anything")
    parser.add_argument("--workshop", metavar="ID", type=workshop_id,
                        help="workshop name, e.g. 2016-08-13-place" +
                             (f" (default: {help_text(WORKSHOP_ID)})" if WORKSHOP_ID else ""))
    parser.add_argument("--email", metavar="ADDR", type=email_address,
                        help="your email address (optional)")
    parser.add_argument("-H", "--host", metavar="URL", type=host_url, default=SERVER_URL,
                        help=f"server base URL (default: {help_text(SERVER_URL)})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the commands run and their output")
    parser.add_argument("--reset-key", action="store_true",
                        help="forget the stored key and start a new identity")
    parser.add_argument("--send-pending", action="store_true",
                        help="send the reports kept because they could not be delivered, and "
                             "exit; runs no checks")
    parser.add_argument("--forget", action="store_true",
                        help="delete everything you sent from the server, and the stored key "
                             "(asks first; --yes does not ask); runs no checks")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the checks, print the results, offer to send them; return the exit code."""
    protect_console()
    args = parse_args(argv)
    if args.list:
        print_list()
        return 0
    if args.forget:
        return forget_everything(args)
    server = Server(args.host)
    if args.send_pending:
        if not kept_reports():
            say("No reports are waiting to be sent.")
        return 0 if send_kept(server) else 1
    try:
        planned = select_checks(args.checks)
    except ValueError as error:
        say(f"error: {error}", sys.stderr)
        return 2
    # Before anything else: reports agreed to earlier go first, so the server's latest attempt
    # stays the latest check, and with the key the learner has (one learner, never two).
    waiting = not send_kept(server, args.no_report)
    if args.reset_key:
        forget_key()
    checked_at = utc_now()
    say(f"Checking {len(planned)} item(s) for the workshop (Python {platform.python_version()} "
        f"at {sys.executable}):")
    results = run_checks(planned, args.verbose)
    code = summarize(results)
    if not args.no_report:
        offer_report(results, args, server, checked_at, waiting)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("\nInterrupted.", sys.stderr)
        sys.exit(130)
