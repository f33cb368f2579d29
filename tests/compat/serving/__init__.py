# A package, so that pytest imports this directory's conftest.py as
# `serving.conftest`: run from tests/compat (the MLflow suite), a second
# top-level `conftest` module would shadow tests/compat/conftest.py, whose
# names the MLflow tests import.
