"""nstutils: helpers for the course "Seeing inside CNNs, then painting with them".

Every function takes RGB images as (N, 3, H, W) float tensors in [0, 1] and works on the
device of its inputs.
"""

from .data import PAINTINGS, PHOTOS, sample_image, sample_names
from .devices import default_device, describe_device
from .download import DownloadError
from .generated_styles import GENERATED_STYLES
from .images import ImageError, image_grid, load_image, resize, save_image, to_numpy, to_pil
from .models import (MODELS, FeatureNetwork, Prediction, UnknownLayerError, class_index,
                     imagenet_classes, load_model, top_k)
from .optim import History, OptimizationError, optimize
from .plot import plot_losses, plot_top_k, show_images
from .quick import quick_mode

# --- exports of the later modules (one import line each) ---

__version__ = "0.1.0"
