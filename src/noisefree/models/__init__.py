"""Denoising networks, found by name. Every architecture is registered here, explicitly.

Every network is called as ``model(x, sigma=None)`` on (N, C, H, W) images in [0, 1]; networks built with a
noise-level map (``noise_map=True``) need ``sigma`` (float or (N,) tensor), the others ignore it.
"""

from .autoencoders import Conv4AE, DenseAE, PoolAE, SkipAE, StridedAE
from .dncnn import DnCNN
from .ffdnet import FFDNet
from .registry import ModelSpec, build_model, get_spec, list_models, register
from .unet import UNet

register(ModelSpec("skip-ae", SkipAE, "conv/pool/BN/ReLU encoder, transposed-conv decoder, skip connections",
                   reference="000 (CIFAR-10)", multiple=8))
register(ModelSpec("conv4-ae", Conv4AE, "4 conv layers 28->7, 4 transposed-conv layers 7->28",
                   reference="001 (CIFAR-10 resized to 28x28)", multiple=4))
register(ModelSpec("dense-ae", DenseAE, "stride-2 convs, Linear 1024->256->1024 bottleneck, transposed convs",
                   reference="002 (MNIST)", fixed_size=(28, 28)))
register(ModelSpec("pool-ae", PoolAE, "conv+BN+max-pool encoder, conv+upsampling decoder",
                   reference="003 (MNIST, CIFAR-10)", multiple=4))
register(ModelSpec("strided-ae", StridedAE, "stride-2 convs 28->14->7->3, transposed convs back",
                   reference="004 (Fashion-MNIST)", multiple=8, offset=4, minimum=12))
register(ModelSpec("dncnn", DnCNN, "17-layer residual CNN with batch norm (predicts the noise)",
                   reference="Zhang et al. 2017, DnCNN"))
register(ModelSpec("ffdnet", FFDNet, "15-layer CNN with batch norm on the 2x2 pixel-unshuffled image plus a "
                   "noise-level map", reference="Zhang et al. 2018, FFDNet", multiple=2,
                   defaults={"noise_map": True}))
register(ModelSpec("unet", UNet, "DRUNet-like U-Net: residual blocks, strided-conv down, transposed-conv up, "
                   "4 levels (predicts the noise)", reference="Zhang et al. 2021, DRUNet", multiple=8))

__all__ = ["ModelSpec", "build_model", "get_spec", "list_models", "register",
           "Conv4AE", "DenseAE", "DnCNN", "FFDNet", "PoolAE", "SkipAE", "StridedAE", "UNet"]
