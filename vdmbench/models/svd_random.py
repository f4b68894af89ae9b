"""SVD-family pipelines with random weights: the real architecture (for speed, which does not
depend on the weights) and a tiny one (for tests)."""

from __future__ import annotations

from typing import Any, Literal

import torch

from vdmbench.models.svd_components import image_processor_class

#: SVD's scheduler configuration (EDM σ ∈ [0.002, 700], Karras spacing, v-prediction)
SVD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "interpolation_type": "linear", "num_train_timesteps": 1000,
    "prediction_type": "v_prediction", "sigma_max": 700.0, "sigma_min": 0.002,
    "steps_offset": 1, "timestep_spacing": "leading", "timestep_type": "continuous",
    "use_karras_sigmas": True,
}


def random_svd_pipeline(size: Literal["real", "tiny"] = "tiny", num_frames: int = 14,
                        seed: int = 0, unet_layers_per_block: int | tuple[int, ...] = 2) -> Any:
    """A ``StableVideoDiffusionPipeline`` with random weights (float32, CPU).

    ``real``: SVD's architecture (UNet channels (320, 640, 1280, 1280), heads (5, 10, 20, 20),
    cross-attention 1024, time-id embedding 256; VAE (128, 256, 512, 512), 2 layers per block;
    CLIP ViT-H/14 image encoder, projection 1024) — for speed, which does not depend on weights.
    ``tiny``: the same block types with 32/64 channels, a 2-level VAE (scale factor 2) and a
    2-layer CLIP (image size 224, patch 32), about 2M parameters in all — for tests.
    """
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    if size == "real":
        unet = UNetSpatioTemporalConditionModel(sample_size=96, num_frames=num_frames,
                                                layers_per_block=unet_layers_per_block)
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(128, 256, 512, 512),
                                           down_block_types=("DownEncoderBlock2D",) * 4,
                                           layers_per_block=2, sample_size=768)
        clip = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_attention_heads=16,
                                num_hidden_layers=32, patch_size=14, image_size=224,
                                projection_dim=1024, hidden_act="gelu", layer_norm_eps=1e-5)
    elif size == "tiny":
        unet = UNetSpatioTemporalConditionModel(
            sample_size=8, num_frames=num_frames,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 64), addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=24, layers_per_block=unet_layers_per_block,
            cross_attention_dim=32, num_attention_heads=(2, 4))
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(32, 32),
                                           down_block_types=("DownEncoderBlock2D",) * 2,
                                           layers_per_block=1, sample_size=16)
        clip = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                num_hidden_layers=2, patch_size=32, image_size=224,
                                projection_dim=32)
    else:
        raise ValueError(f"size must be 'real' or 'tiny', got {size!r}")
    image_encoder = CLIPVisionModelWithProjection(clip)
    feature_extractor = image_processor_class()(crop_size=224, size={"shortest_edge": 224})
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER_CONFIG)
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder.eval(),
                                        unet=unet.eval(), scheduler=scheduler,
                                        feature_extractor=feature_extractor)
