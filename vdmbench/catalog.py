"""Every registered name in one place: models, metrics, datasets, transforms, compressors.

Entries are lazy ``"module:attr"`` strings: importing this module (``vdmbench ls``) imports
neither torch nor the targets. ``compression`` and ``baselines`` are reached only through these
names, so the harness never imports them directly.
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
           "the synthetic world's tiny I2V teacher (SVD architecture, pixel space) or a student")
MODELS.add("synth-latent-i2v", "vdmbench.models.synth_latent_i2v:SynthLatentI2VAdapter",
           "the latent synthetic world's I2V teacher (temporal VAE + SVD-architecture UNet); "
           "the VAE is shipped, the teacher not yet: give a folder trained with "
           "vdmbench.synth.train_latent_i2v")
MODELS.add("synth-t2v", "vdmbench.models.synth_t2v:SynthT2VAdapter",
           "the synthetic world's tiny T2V teacher (VideoCrafter2 UNet, pixel space)")
MODELS.add("synth-dit-t2v", "vdmbench.models.synth_dit:SynthDiTT2VAdapter",
           "a tiny random video DiT (diffusers WanTransformer3DModel, flow matching, pixel "
           "space 8x16x16) on SynthMotion captions: for the DiT cache methods on CPU")
MODELS.add("svd", "vdmbench.models.svd:SVDAdapter",
           "Stable Video Diffusion (img2vid / img2vid-xt) from a local diffusers directory")
MODELS.add("sfv", "vdmbench.models.svd:SFVAdapter",
           "SF-V: SVD's UNet fine-tuned for one-step sampling, from local weights")
MODELS.add("t2v-turbo-v2", "vdmbench.models.t2v_turbo:T2VTurboAdapter",
           "T2V-Turbo-v2 (VideoCrafter2 UNet, consistency sampler) from local weights")
MODELS.add("videos", "vdmbench.models.videos:VideosAdapter",
           "videos already made by any generator: options folder (one file per request id, "
           "names from `vdmbench requests`), answers (user-reported latency_s); not timed")
MODELS.add("diffusers", "vdmbench.models.diffusers_pipeline:DiffusersAdapter",
           "any local diffusers video pipeline folder (weights: the folder; I2V or T2V from its "
           "class); options variant, call_kwargs, num_frames, height, width, output_resize")
MODELS.add("python", "vdmbench.api:FunctionGenerator",
           "a function or pipeline object given to vdmbench.evaluate() in the same process")
MODELS.add("test-generator", "vdmbench.testing:TestGenerator",
           "tiny seeded CPU generator for tests (moving pattern + noise)")
MODELS.add("random-svd", "vdmbench.testing:RandomSVDTeacher",
           "tiny random SVD-architecture UNet: a teacher for analyze/compress tests only")

# --- datasets -------------------------------------------------------------------------------
DATASETS.add("synthmotion", "vdmbench.data.synthmotion:SynthMotionDataset",
             "procedural videos: content and motion classes vary independently (no files)")
DATASETS.add("ucf101", "vdmbench.data.ucf101:UCF101Dataset",
             "UCF101 from its official layout and split files (user-supplied)")
DATASETS.add("videofolder", "vdmbench.data.videofolder:VideoFolderDataset",
             "a folder of videos + metadata.csv/.jsonl (file_name, caption): HF videofolder")
DATASETS.add("noise", "vdmbench.data.noise:NoiseDataset",
             "no videos: Gaussian training latents for compress smoke runs (named explicitly)")
DATASETS.add("vbench_prompts", "vdmbench.metrics.vbench.prompts:VBenchPromptDataset",
             "VBench's prompt list (from an installed vbench package or a given file)")
DATASETS.add("test-patterns", "vdmbench.testing:TestPatternDataset",
             "procedural moving squares for tests")

# --- metrics --------------------------------------------------------------------------------
METRICS.add("fvd_synth", "vdmbench.synth.metrics:SynthFVD",
            "synthetic FVD: Fréchet distance of the trained motion network's features")
METRICS.add("content_fd_synth", "vdmbench.synth.metrics:SynthContentFD",
            "per-frame Fréchet distance of the trained content network's features")
METRICS.add("is_synth", "vdmbench.synth.metrics:SynthIS",
            "synthetic Inception Score from the motion network's class probabilities")
METRICS.add("motion_acc_synth", "vdmbench.synth.metrics:SynthMotionAccuracy",
            "synthetic motion accuracy: videos the motion net puts in the class asked for")
METRICS.add("fvd_styleganv_2048_16f", "vdmbench.metrics.feature_metrics:FVDStyleGANV",
            "FVD, StyleGAN-V fvd2048_16f (real: LANCZOS 256 + JPEG; I3D logits, 2048, 16 frames)")
METRICS.add("fvd_cdfvd_128", "vdmbench.metrics.feature_metrics:FVDCDFVD128",
            "FVD, cd-fvd folder pipeline at 128 (antialiased short side, crop, uint8, squash 224)")
METRICS.add("fvd_cdfvd_256", "vdmbench.metrics.feature_metrics:FVDCDFVD256",
            "FVD, cd-fvd folder pipeline at 256 (antialiased short side, crop, uint8, squash 224)")
METRICS.add("fvd_cdfvd_array", "vdmbench.metrics.feature_metrics:FVDCDFVDArray",
            "FVD, cd-fvd numpy-array API (squash 224, 2x/255-1; not its published pipeline)")
METRICS.add("is_styleganv_ucf101", "vdmbench.metrics.feature_metrics:ISStyleGANVUCF101",
            "UCF101 Inception Score, StyleGAN-V isv2048_ucf (C3D, 2048 videos, 10 splits)")
METRICS.add("is_tgan2_ucf101", "vdmbench.metrics.feature_metrics:ISTGAN2UCF101",
            "UCF101 Inception Score, TGANv2 protocol (C3D, 10 draws x 2048 videos, splits=1)")
#: metric names that were renamed → the names that replace them (refused by validate/run)
RENAMED_METRICS: dict[str, str] = {
    "is_tgan_ucf101": "is_styleganv_ucf101 (what it computed: StyleGAN-V's 10 splits of 2048) "
                      "or is_tgan2_ucf101 (TGANv2's 10 draws of 2048)",
    "fvd_cdfvd": "fvd_cdfvd_array (what it computed: cd-fvd's array API) or fvd_cdfvd_128 / "
                 "fvd_cdfvd_256 (cd-fvd's folder pipeline)",
}
METRICS.add("psnr", "vdmbench.metrics.fidelity:PSNRMetric",
            "PSNR (dB) to the teacher's video for the same request and seed")
METRICS.add("ssim", "vdmbench.metrics.fidelity:SSIMMetric",
            "SSIM to the teacher's video for the same request and seed")
METRICS.add("temporal_flickering", "vdmbench.metrics.vbench.flickering:TemporalFlickering",
            "VBench temporal flickering, computed natively ((255 - MAE of frame diffs) / 255)")
METRICS.add("vbench_total", "vdmbench.metrics.vbench.metric:VBenchTotal",
            "VBench Total = (4·Quality + Semantic)/5 (incomplete if any dimension is missing)")
METRICS.add("vbench_quality", "vdmbench.metrics.vbench.metric:VBenchQuality",
            "VBench Quality score (7 normalized, weighted quality dimensions / 6.5)")
METRICS.add("vbench_semantic", "vdmbench.metrics.vbench.metric:VBenchSemantic",
            "VBench Semantic score (9 normalized semantic dimensions / 9)")
_VBENCH_DIMENSIONS = (  # as vdmbench.metrics.vbench.scores.DIMENSIONS (listed here: no import)
    "subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
    "aesthetic_quality", "imaging_quality", "dynamic_degree", "object_class", "multiple_objects",
    "human_action", "color", "spatial_relationship", "scene", "appearance_style",
    "temporal_style", "overall_consistency")
for _dim in _VBENCH_DIMENSIONS:
    METRICS.add(f"vbench_{_dim}", "vdmbench.metrics.vbench.metric:VBench"
                + "".join(w.capitalize() for w in _dim.split("_")),
                f"VBench '{_dim}' computed by VBench's own code in its environment")
METRICS.add("mean_abs_diff_to_teacher", "vdmbench.testing:MeanAbsDiffToTeacher",
            "mean absolute pixel difference to the teacher's video (test metric)")

# --- transforms (training-free, vdmbench.acceleration.Transform) ---------------------------
TRANSFORMS.add("triton", "compression.kernels.transform:TritonKernels",
               "fused temporal attention, GroupNorm+SiLU, exact 1-token cross-attention")
TRANSFORMS.add("deepcache", "baselines.deepcache:DeepCache",
               "DeepCache: reuse the UNet's deep features between full steps (interval, branch)")
TRANSFORMS.add("pab", "baselines.pab:PyramidAttentionBroadcast",
               "Pyramid Attention Broadcast (diffusers hooks): reuse attention outputs over steps "
               "(UNets, and DiTs through enable_cache)")
TRANSFORMS.add("firstblockcache", "baselines.dit_cache:FirstBlockCache",
               "First Block Cache (diffusers, DiTs): skip the other blocks while the first "
               "block's residual barely changes")
TRANSFORMS.add("fastercache", "baselines.dit_cache:FasterCache",
               "FasterCache (diffusers, DiTs): extrapolated attention reuse, CFG uncond "
               "approximated from cond")
TRANSFORMS.add("taylorseer", "baselines.dit_cache:TaylorSeer",
               "TaylorSeer (diffusers, DiTs): blocks' outputs predicted by a Taylor series "
               "between full steps")
TRANSFORMS.add("magcache", "baselines.dit_cache:MagCache",
               "MagCache (diffusers, DiTs): skip steps by calibrated residual magnitude ratios")
TRANSFORMS.add("tgate", "baselines.tgate:TGate",
               "T-GATE: cross-attention reused after a gate step, self-attention every k steps")
TRANSFORMS.add("int8", "baselines.int8:Int8",
               "int8 quantization of the UNet's Linear layers (torchao; weight-only or dynamic)")
TRANSFORMS.add("test-scale-output", "vdmbench.testing:ScaleOutputTransform",
               "multiplies the denoiser's output by a factor (a test transform)")

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
