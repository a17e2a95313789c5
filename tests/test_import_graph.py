"""The import graph of dlrun (built by grimp) has no cycles: not between its subpackages and top-level
modules, nor between the modules of one subpackage. Imports under `if TYPE_CHECKING:` only feed
annotations (a callback's hooks name the Trainer that calls them) and never run, so they do not count.
"""

import grimp
import pytest


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("dlrun", cache_dir=None, exclude_type_checking_imports=True)


def test_no_import_cycles(graph):
    packages = sorted(m for m in graph.modules if graph.find_children(m))
    assert "dlrun" in packages and "dlrun.datasets" in packages
    cycles = {p: sorted(graph.nominate_cycle_breakers(p)) for p in packages}
    assert {p: breakers for p, breakers in cycles.items() if breakers} == {}


def test_run_directory_layer_sits_below_training(graph):
    """Training, callbacks and commands use dlrun.rundir; it uses none of them (nor torch, but lazily)."""
    imported = graph.find_upstream_modules("dlrun.rundir", as_package=True)
    assert imported <= {"dlrun.errors"}, imported
