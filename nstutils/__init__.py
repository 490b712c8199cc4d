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
from .dream import deep_dream, dream_gradient, dream_objective, dream_zoom, save_gif
from .attribution import (completeness_gaps, integrated_gradients, make_baseline,
                          plot_attributions, plot_completeness, saliency, smoothgrad)
from .losses import content_loss, gram_matrix, layer_style_loss, style_loss, tv_loss
from .style import default_layers, invert_features, style_transfer, synthesize_texture
from .objectives import (Objective, channel, class_logit, class_probability, diversity, layer,
                         neuron)
from .param import FourierImage, ImageParam, PixelImage
from .transforms import Blur, Jitter, L2Decay, Pad, RandomRotate, RandomScale, standard_transforms
from .render import robust_score, visualize
from .patches import (patch_pool, plot_dataset_vs_optimized, plot_patches, receptive_field,
                      top_patches, unit_maxima)
from .plot import plot_feature_maps, plot_filters, plot_spectra

__version__ = "0.1.0"
