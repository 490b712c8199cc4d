"""nstutils: helpers for the course "Seeing inside CNNs, then painting with them".

Every function takes RGB images as (N, 3, H, W) float tensors in [0, 1] and works on the
device of its inputs. The names below are the documented API (``nstutils.__all__``); each is
loaded from its module the first time it is used, so ``import nstutils`` is quick and importing
one lesson's module (``nstutils.objectives``) loads neither the others nor matplotlib. Modules
are reachable as attributes too: ``nstutils.plot``, ``nstutils.axioms`` ...
"""

import importlib
import os
import sys


def _share_the_cores() -> None:
    """Leave half the CPUs to the browser or the second notebook, and let idle threads sleep.

    PyTorch starts one thread per CPU, and idle threads spin while they wait for work. When
    another program shares the cores, each step waits for a thread that is not running: on a
    2-core laptop, many times slower (see benchmarks/bench_threads.py). Half the CPUs (one on a
    2-core machine or Colab) and passive waiting avoid that; a thread count the user set in
    OMP_NUM_THREADS is kept. Works before torch is imported (through the environment, which
    kernels started by ``nst course`` inherit) and after (through ``torch.set_num_threads``).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "OMP_NUM_THREADS" in os.environ:
        return
    threads = max(1, (os.cpu_count() or 2) // 2)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:  # imported first: too late for the environment
        sys.modules["torch"].set_num_threads(threads)


_share_the_cores()

_EXPORTS = {
    "activations": ["activation_entropy", "layer_entropies", "softmax_activations"],
    "compare_networks": ["by_depth", "feature_distances", "feature_sensitivity", "gram_distances",
                         "layer_set", "networks_to_compare"],
    "devices": ["default_device", "describe_device"],
    "download": ["CachedFileError", "DownloadError"],
    "images": ["ImageError", "OutputError", "check_output", "image_grid", "load_image", "overlay",
               "resize", "save_image", "to_numpy", "to_pil"],
    "data": ["PAINTINGS", "PHOTOS", "sample_image", "sample_names"],
    "generated_styles": ["GENERATED_STYLES"],
    "models": ["MODELS", "FeatureNetwork", "Prediction", "UnknownLayerError", "class_index",
               "imagenet_classes", "load_model", "top_k", "weights_cached"],
    "optim": ["History", "OptimizationError", "optimize"],
    "quick": ["quick_mode"],
    "objective": ["Objective"],
    "objectives": ["channel", "class_logit", "class_probability", "direction", "diversity",
                   "layer", "neuron"],
    "param": ["FourierImage", "ImageParam", "PixelImage"],
    "transforms": ["Blur", "Jitter", "L2Decay", "Pad", "RandomRotate", "RandomScale",
                   "standard_transforms"],
    "render": ["robust_score", "visualize"],
    "dream": ["deep_dream", "dream_gradient", "dream_objective", "dream_zoom", "save_gif"],
    "attribution": ["IGReport", "completeness_gaps", "integrated_gradients",
                    "integrated_gradients_report", "make_baseline", "saliency", "smoothgrad"],
    "patches": ["patch_crop", "patch_pool", "strongest_units", "top_patches", "unit_maxima"],
    "receptive_fields": ["receptive_field"],
    "losses": ["content_loss", "gram_matrix", "layer_mean_std_loss", "layer_style_loss", "mean_std",
               "mean_std_loss", "style_loss", "tv_loss"],
    "style": ["invert_features", "style_transfer", "synthesize_texture"],
    "stylizer": ["Stylizer", "StylizerFileError", "load_stylizer", "train_stylizer"],
    "style_settings": ["default_layers"],
    "plot": ["plot_content_style_grid", "plot_feature_maps", "plot_filters", "plot_losses",
             "plot_spectra", "plot_top_k", "show_images"],
    "plot_attribution": ["plot_attributions", "plot_completeness"],
    "plot_units": ["plot_dataset_vs_optimized", "plot_patches", "plot_unit_grid"],
    "validate": ["ArgumentError", "DeviceError", "ImageArgumentError", "NumberError", "SizeError",
                 "TargetError"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    """Load a public name (or a submodule such as ``plot``) the first time it is asked for."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
