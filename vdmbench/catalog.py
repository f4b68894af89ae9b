"""Every registered name in one place: models, metrics, datasets, transforms, compressors.

Entries are lazy ``"module:attr"`` strings: importing this module (``vdmbench ls``) imports
neither torch nor the targets. Each model, dataset, metric and transform names its torch-free
config class too (``config=``, :mod:`vdmbench.registry`), which ``vdmbench validate`` reads;
``python`` (:mod:`vdmbench.api`) imports no torch and is its own config. ``compression`` and
``baselines`` are reached only through these names, so the harness never imports them
directly.
"""

from __future__ import annotations

from typing import Any

from vdmbench.registry import Registry

MODELS: Registry[Any] = Registry("model adapter")
METRICS: Registry[Any] = Registry("metric")
DATASETS: Registry[Any] = Registry("dataset")
TRANSFORMS: Registry[Any] = Registry("transform")
COMPRESSORS: Registry[Any] = Registry("compressor")

# --- model adapters -------------------------------------------------------------------------
MODELS.add("synth-i2v", "vdmbench.models.synth_i2v:SynthI2VAdapter",
           "the synthetic world's tiny I2V teacher (SVD architecture, pixel space) or a student",
           config="vdmbench.models.synth_i2v_config:SynthI2VConfig")
MODELS.add("synth-latent-i2v", "vdmbench.models.synth_latent_i2v:SynthLatentI2VAdapter",
           "the latent synthetic world's I2V teacher (temporal VAE + SVD-architecture UNet "
           "on 8x32x32 videos' latents), shipped; or a student / a folder trained with "
           "vdmbench.synth.train_latent_i2v",
           config="vdmbench.models.synth_latent_i2v_config:SynthLatentI2VConfig")
MODELS.add("synth-t2v", "vdmbench.models.synth_t2v:SynthT2VAdapter",
           "the synthetic world's tiny T2V teacher (VideoCrafter2 UNet, pixel space)",
           config="vdmbench.models.synth_t2v_config:SynthT2VConfig")
MODELS.add("synth-dit-t2v", "vdmbench.models.synth_dit:SynthDiTT2VAdapter",
           "a tiny random video DiT (diffusers WanTransformer3DModel, flow matching, pixel "
           "space 8x16x16) on SynthMotion captions: for the DiT cache methods on CPU",
           config="vdmbench.models.synth_dit_config:SynthDiTT2VConfig")
MODELS.add("svd", "vdmbench.models.svd:SVDAdapter",
           "Stable Video Diffusion (img2vid / img2vid-xt) from a local diffusers directory",
           config="vdmbench.models.svd_config:SVDConfig")
MODELS.add("sfv", "vdmbench.models.svd:SFVAdapter",
           "SF-V: SVD's UNet fine-tuned for one-step sampling, from local weights",
           config="vdmbench.models.svd_config:SFVConfig")
MODELS.add("t2v-turbo-v2", "vdmbench.models.t2v_turbo:T2VTurboAdapter",
           "T2V-Turbo-v2 (VideoCrafter2 UNet, consistency sampler) from local weights",
           config="vdmbench.models.t2v_turbo_config:T2VTurboConfig")
MODELS.add("videos", "vdmbench.models.videos:VideosAdapter",
           "videos already made by any generator: options folder (one file per request id, "
           "names from `vdmbench requests`), answers (user-reported latency_s); not timed",
           config="vdmbench.models.videos_config:VideosConfig")
MODELS.add("diffusers", "vdmbench.models.diffusers_pipeline:DiffusersAdapter",
           "any local diffusers video pipeline folder (weights: the folder; I2V or T2V from its "
           "class); options variant, call_kwargs, num_frames, height, width, output_resize",
           config="vdmbench.models.diffusers_pipeline_config:DiffusersConfig")
MODELS.add("python", "vdmbench.api:FunctionGenerator",
           "a function or pipeline object given to vdmbench.evaluate() in the same process")
MODELS.add("test-generator", "vdmbench.testing:TestGenerator",
           "tiny seeded CPU generator for tests (moving pattern + noise)",
           config="vdmbench.testing_config:TestGeneratorConfig")
MODELS.add("random-svd", "vdmbench.testing:RandomSVDTeacher",
           "tiny random SVD-architecture UNet: a teacher for analyze/compress tests only",
           config="vdmbench.testing_config:RandomSVDConfig")

# --- datasets -------------------------------------------------------------------------------
DATASETS.add("synthmotion", "vdmbench.data.synthmotion:SynthMotionDataset",
             "procedural videos: content and motion classes vary independently (no files)",
             config="vdmbench.data.synthmotion_config:SynthMotionConfig")
DATASETS.add("ucf101", "vdmbench.data.ucf101:UCF101Dataset",
             "UCF101 from its official layout and split files (user-supplied)",
             config="vdmbench.data.ucf101_config:UCF101Config")
DATASETS.add("videofolder", "vdmbench.data.videofolder:VideoFolderDataset",
             "a folder of videos + metadata.csv/.jsonl (file_name, caption): HF videofolder",
             config="vdmbench.data.videofolder_config:VideoFolderConfig")
DATASETS.add("noise", "vdmbench.data.noise:NoiseDataset",
             "no videos: Gaussian training latents for compress smoke runs (named explicitly)",
             config="vdmbench.data.config:DatasetConfig")
DATASETS.add("vbench_prompts", "vdmbench.metrics.vbench.prompts:VBenchPromptDataset",
             "VBench's prompt list (from an installed vbench package or a given file)",
             config="vdmbench.metrics.vbench.prompts_config:VBenchPromptsConfig")
DATASETS.add("test-patterns", "vdmbench.testing:TestPatternDataset",
             "procedural moving squares for tests",
             config="vdmbench.data.config:DatasetConfig")

# --- metrics --------------------------------------------------------------------------------
METRICS.add("fvd_synth", "vdmbench.synth.metrics:SynthFVD",
            "synthetic FVD: Fréchet distance of the trained motion network's features",
            config="vdmbench.synth.metrics_config:SynthFVDConfig")
METRICS.add("content_fd_synth", "vdmbench.synth.metrics:SynthContentFD",
            "per-frame Fréchet distance of the trained content network's features",
            config="vdmbench.synth.metrics_config:SynthContentFDConfig")
METRICS.add("is_synth", "vdmbench.synth.metrics:SynthIS",
            "synthetic Inception Score from the motion network's class probabilities",
            config="vdmbench.synth.metrics_config:SynthISConfig")
METRICS.add("motion_acc_synth", "vdmbench.synth.metrics:SynthMotionAccuracy",
            "synthetic motion accuracy: videos the motion net puts in the class asked for",
            config="vdmbench.synth.metrics_config:SynthMotionAccuracyConfig")
METRICS.add("fvd_styleganv_2048_16f", "vdmbench.metrics.feature_metrics:FVDStyleGANV",
            "FVD, StyleGAN-V fvd2048_16f (real: LANCZOS 256 + JPEG; I3D logits, 2048, 16 frames)",
            config="vdmbench.metrics.feature_metrics_config:FVDStyleGANVConfig")
METRICS.add("fvd_cdfvd_128", "vdmbench.metrics.feature_metrics:FVDCDFVD128",
            "FVD, cd-fvd folder pipeline at 128 (antialiased short side, crop, uint8, squash 224)",
            config="vdmbench.metrics.feature_metrics_config:FVDCDFVD128Config")
METRICS.add("fvd_cdfvd_256", "vdmbench.metrics.feature_metrics:FVDCDFVD256",
            "FVD, cd-fvd folder pipeline at 256 (antialiased short side, crop, uint8, squash 224)",
            config="vdmbench.metrics.feature_metrics_config:FVDCDFVD256Config")
METRICS.add("fvd_cdfvd_array", "vdmbench.metrics.feature_metrics:FVDCDFVDArray",
            "FVD, cd-fvd numpy-array API (squash 224, 2x/255-1; not its published pipeline)",
            config="vdmbench.metrics.feature_metrics_config:FVDCDFVDArrayConfig")
METRICS.add("is_styleganv_ucf101", "vdmbench.metrics.feature_metrics:ISStyleGANVUCF101",
            "UCF101 Inception Score, StyleGAN-V isv2048_ucf (C3D, 2048 videos, 10 splits)",
            config="vdmbench.metrics.feature_metrics_config:ISStyleGANVUCF101Config")
METRICS.add("is_tgan2_ucf101", "vdmbench.metrics.feature_metrics:ISTGAN2UCF101",
            "UCF101 Inception Score, TGANv2 protocol (C3D, 10 draws x 2048 videos, splits=1)",
            config="vdmbench.metrics.feature_metrics_config:ISTGAN2UCF101Config")
#: metric names that were renamed → the names that replace them (refused by validate/run)
RENAMED_METRICS: dict[str, str] = {
    "is_tgan_ucf101": "is_styleganv_ucf101 (what it computed: StyleGAN-V's 10 splits of 2048) "
                      "or is_tgan2_ucf101 (TGANv2's 10 draws of 2048)",
    "fvd_cdfvd": "fvd_cdfvd_array (what it computed: cd-fvd's array API) or fvd_cdfvd_128 / "
                 "fvd_cdfvd_256 (cd-fvd's folder pipeline)",
}
METRICS.add("psnr", "vdmbench.metrics.fidelity:PSNRMetric",
            "PSNR (dB) to the teacher's video for the same request and seed",
            config="vdmbench.metrics.fidelity_config:PSNRConfig")
METRICS.add("ssim", "vdmbench.metrics.fidelity:SSIMMetric",
            "SSIM to the teacher's video for the same request and seed",
            config="vdmbench.metrics.fidelity_config:SSIMConfig")
METRICS.add("temporal_flickering", "vdmbench.metrics.vbench.flickering:TemporalFlickering",
            "VBench temporal flickering, computed natively ((255 - MAE of frame diffs) / 255)",
            config="vdmbench.metrics.vbench.flickering_config:TemporalFlickeringConfig")
METRICS.add("vbench_total", "vdmbench.metrics.vbench.metric:VBenchTotal",
            "VBench Total = (4·Quality + Semantic)/5 (incomplete if any dimension is missing)",
            config="vdmbench.metrics.vbench.metric_config:VBenchTotalConfig")
METRICS.add("vbench_quality", "vdmbench.metrics.vbench.metric:VBenchQuality",
            "VBench Quality score (7 normalized, weighted quality dimensions / 6.5)",
            config="vdmbench.metrics.vbench.metric_config:VBenchQualityConfig")
METRICS.add("vbench_semantic", "vdmbench.metrics.vbench.metric:VBenchSemantic",
            "VBench Semantic score (9 normalized semantic dimensions / 9)",
            config="vdmbench.metrics.vbench.metric_config:VBenchSemanticConfig")
_VBENCH_DIMENSIONS = (  # as vdmbench.metrics.vbench.scores.DIMENSIONS (listed here: no import)
    "subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
    "aesthetic_quality", "imaging_quality", "dynamic_degree", "object_class", "multiple_objects",
    "human_action", "color", "spatial_relationship", "scene", "appearance_style",
    "temporal_style", "overall_consistency")
for _dim in _VBENCH_DIMENSIONS:
    _cls = "VBench" + "".join(w.capitalize() for w in _dim.split("_"))
    METRICS.add(f"vbench_{_dim}", f"vdmbench.metrics.vbench.metric:{_cls}",
                f"VBench '{_dim}' computed by VBench's own code in its environment",
                config=f"vdmbench.metrics.vbench.metric_config:{_cls}Config")
METRICS.add("mean_abs_diff_to_teacher", "vdmbench.testing:MeanAbsDiffToTeacher",
            "mean absolute pixel difference to the teacher's video (test metric)",
            config="vdmbench.testing_config:MeanAbsDiffConfig")

# --- transforms (training-free, vdmbench.acceleration.Transform) ---------------------------
TRANSFORMS.add("triton", "compression.kernels.transform:TritonKernels",
               "fused temporal attention, GroupNorm+SiLU, exact 1-token cross-attention",
               config="compression.triton_config:TritonConfig")
TRANSFORMS.add("deepcache", "baselines.deepcache:DeepCache",
               "DeepCache: reuse the UNet's deep features between full steps (interval, branch)",
               config="baselines.deepcache_config:DeepCacheConfig")
TRANSFORMS.add("pab", "baselines.pab:PyramidAttentionBroadcast",
               "Pyramid Attention Broadcast (diffusers hooks): reuse attention outputs over steps "
               "(UNets, and DiTs through enable_cache)",
               config="baselines.pab_config:PABConfig")
TRANSFORMS.add("firstblockcache", "baselines.dit_cache:FirstBlockCache",
               "First Block Cache (diffusers, DiTs): skip the other blocks while the first "
               "block's residual barely changes",
               config="baselines.dit_cache:FirstBlockCache")
TRANSFORMS.add("fastercache", "baselines.dit_cache:FasterCache",
               "FasterCache (diffusers, DiTs): extrapolated attention reuse, CFG uncond "
               "approximated from cond",
               config="baselines.dit_cache:FasterCache")
TRANSFORMS.add("taylorseer", "baselines.dit_cache:TaylorSeer",
               "TaylorSeer (diffusers, DiTs): blocks' outputs predicted by a Taylor series "
               "between full steps",
               config="baselines.dit_cache:TaylorSeer")
TRANSFORMS.add("magcache", "baselines.dit_cache:MagCache",
               "MagCache (diffusers, DiTs): skip steps by calibrated residual magnitude ratios",
               config="baselines.dit_cache:MagCache")
TRANSFORMS.add("tgate", "baselines.tgate:TGate",
               "T-GATE: cross-attention reused after a gate step, self-attention every k steps",
               config="baselines.tgate_config:TGateConfig")
TRANSFORMS.add("int8", "baselines.int8:Int8",
               "int8 quantization of the UNet's Linear layers (torchao; weight-only or dynamic)",
               config="baselines.int8_config:Int8Config")
TRANSFORMS.add("test-scale-output", "vdmbench.testing:ScaleOutputTransform",
               "multiplies the denoiser's output by a factor (a test transform)",
               config="vdmbench.testing_config:ScaleOutputConfig")

# --- compressors (trained, vdmbench.acceleration.Compressor) ---------------------------------
COMPRESSORS.add("vdmini", "compression.compressor:VDMiniCompressor",
                "VDMini: depth-aware block pruning + ICMD distillation (vdmbench compress)")
COMPRESSORS.add("channel", "compression.channel_prune:ChannelPruneCompressor",
                "structured channel pruning (Torch-Pruning, uniform ratio) + distillation with "
                "the VDMini budget")
COMPRESSORS.add("sfv", "compression.sfv_stage:SFVCompressor",
                "SF-V: one-step adversarial fine-tuning of an SVD-convention teacher (frozen "
                "encoder + spatial/temporal heads)")


def registries() -> dict[str, Registry[Any]]:
    """The registries by the plural name ``vdmbench ls`` uses."""
    return {"models": MODELS, "metrics": METRICS, "datasets": DATASETS,
            "transforms": TRANSFORMS, "compressors": COMPRESSORS}
