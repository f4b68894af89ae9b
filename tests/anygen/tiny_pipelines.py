"""Tiny random diffusers video pipelines built from diffusers' own classes, saved with
``save_pretrained`` (safetensors) for the ``diffusers`` model's tests. A word-level tokenizer is
built in place (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

WORDS = "a an the moving square red green blue circle on of gradient 0 1 2 3 4 5 6 7 8 9"


def tiny_tokenizer() -> Any:
    """A word-level fast tokenizer (pad 0, eos 1, unk 2) with a handful of words."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({w: i + 3 for i, w in enumerate(dict.fromkeys(WORDS.split()))})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                   eos_token="</s>")


def _t5(umt5: bool = False) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5EncoderModel

    cfg = T5Config(vocab_size=32, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
                   relative_attention_num_buckets=8)
    return (UMT5EncoderModel if umt5 else T5EncoderModel)(cfg).eval()


def tiny_wan() -> Any:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=4,
        out_channels=4, text_dim=16, freq_dim=16, ffn_dim=16, num_layers=2,
        cross_attn_norm=True, rope_max_seq_len=32)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], latents_mean=[0.0] * 4,
                           latents_std=[1.0] * 4)
    return WanPipeline(tokenizer=tiny_tokenizer(), text_encoder=_t5(umt5=True),
                       transformer=transformer.eval(), vae=vae.eval(),
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0))


def tiny_ltx() -> Any:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2,
        attention_head_dim=8, cross_attention_dim=16, num_layers=1, caption_channels=16)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False)
    return LTXPipeline(tokenizer=tiny_tokenizer(), text_encoder=_t5(), transformer=transformer,
                       vae=vae, scheduler=FlowMatchEulerDiscreteScheduler())


def tiny_svd() -> Any:
    from vdmbench.models.svd_random import random_svd_pipeline

    return random_svd_pipeline("tiny", num_frames=4)


BUILDERS = {"svd": tiny_svd, "wan": tiny_wan, "ltx": tiny_ltx}


def save(kind: str, root: Path) -> Path:
    """Build the tiny pipeline ``kind`` and save it under ``root/kind`` (safetensors)."""
    folder = root / kind
    BUILDERS[kind]().save_pretrained(folder, safe_serialization=True)
    return folder
