"""Order of the examples in the gallery: the order of the user guide's ideas.

Used by ``sphinx_gallery_conf["within_subsection_order"]`` in conf.py (sphinx-gallery
wants an importable callable there). Examples not listed come last, by file name.
"""

from pathlib import Path

ORDER = [
    "quickstart.py",
    "plot_cross_entropy.py",
    "plot_gaussian_least_squares.py",
    "plot_log_undoes_exp.py",
    "plot_network_saturation.py",
    "plot_no_minimum.py",
    "plot_heteroscedastic.py",
    "plot_network_heteroscedastic.py",
    "plot_choose_distribution.py",
    "plot_network_counts.py",
    "plot_robust_regression.py",
    "plot_custom_family.py",
    "plot_pipeline_gridsearch.py",
    "plot_inference.py",
    "plot_dask_cluster.py",
]


class ExampleOrder:
    """Sort key: position in ORDER, then file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        position = ORDER.index(name) if name in ORDER else len(ORDER)
        return f"{position:03d}_{name}"

    def __repr__(self):
        return f"{type(self).__name__}()"
