"""Triton kernels (imported lazily; this module needs ``triton``).

Two families live here:

* ``_attn_dot_kernel`` / ``_attn_fma_kernel``: short-sequence attention. One program handles
  ``BLOCK_N`` (batch, head) sequences at once; every sequence has ``LQ`` queries and ``LK`` keys
  (both ≤ 64), padded to powers of two and masked. Scores and softmax stay in registers in fp32.
  The *dot* variant uses batched ``tl.dot`` (tensor cores); the *fma* variant walks the keys with
  an online softmax on CUDA cores. Both take every stride, so diffusers' ``view().transpose(1, 2)``
  tensors are read in place.
* ``_gn_stats_kernel`` + ``_gn_apply_kernel``: GroupNorm over a tensor seen as ``(N, C, T, S)``
  with arbitrary strides. Pass 1 reads each (sample, group) in ``SPLIT`` chunks and writes per-chunk
  (count, mean, M2) in fp32 (tile-wise Chan/Welford merging, no sum-of-squares cancellation);
  pass 2 merges the partials, then normalises, applies the affine transform and optionally SiLU in
  the same read-write sweep.

Whether the kernels are interpreted (``TRITON_INTERPRET=1`` at import time, CPU tensors) or
compiled (CUDA tensors) is fixed when this module is imported: :data:`INTERPRETED`.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _attn_dot_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr,
    total, H, LQ, LK, D,
    sqn, sqh, sqf, sqd,
    skn, skh, skf, skd,
    svn, svh, svf, svd,
    son, soh, sof, sod,
    qk_scale,
    BLOCK_N: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    seq = pid.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    seq_ok = seq < total
    n = seq // H
    h = seq % H
    fq = tl.arange(0, BLOCK_Q)
    fk = tl.arange(0, BLOCK_K)
    d = tl.arange(0, BLOCK_D)
    d_ok = (d < D)[None, None, :]

    q_off = ((n * sqn + h * sqh)[:, None, None] + (fq * sqf)[None, :, None]
             + (d * sqd)[None, None, :])
    q_msk = seq_ok[:, None, None] & (fq < LQ)[None, :, None] & d_ok
    q = tl.load(q_ptr + q_off, mask=q_msk, other=0.0)
    kv_msk = seq_ok[:, None, None] & (fk < LK)[None, :, None] & d_ok
    k_off = ((n * skn + h * skh)[:, None, None] + (fk * skf)[None, :, None]
             + (d * skd)[None, None, :])
    k = tl.load(k_ptr + k_off, mask=kv_msk, other=0.0)
    v_off = ((n * svn + h * svh)[:, None, None] + (fk * svf)[None, :, None]
             + (d * svd)[None, None, :])
    v = tl.load(v_ptr + v_off, mask=kv_msk, other=0.0)

    s = tl.dot(q, tl.trans(k, 0, 2, 1), input_precision=PRECISION)  # (BLOCK_N, BLOCK_Q, BLOCK_K)
    s = s * qk_scale
    s = tl.where((fk < LK)[None, None, :], s, float("-inf"))
    m = tl.max(s, axis=2)
    p = tl.exp2(s - m[:, :, None])
    denom = tl.sum(p, axis=2)
    o = tl.dot(p.to(v.dtype), v, input_precision=PRECISION)  # (BLOCK_N, BLOCK_Q, BLOCK_D), fp32
    o = o / denom[:, :, None]

    o_off = ((n * son + h * soh)[:, None, None] + (fq * sof)[None, :, None]
             + (d * sod)[None, None, :])
    tl.store(o_ptr + o_off, o.to(o_ptr.dtype.element_ty), mask=q_msk)


@triton.jit
def _attn_fma_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr,
    total, H, LQ, LK, D,
    sqn, sqh, sqf, sqd,
    skn, skh, skf, skd,
    svn, svh, svf, svd,
    son, soh, sof, sod,
    qk_scale,
    BLOCK_N: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    seq = pid.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    seq_ok = seq < total
    n = seq // H
    h = seq % H
    fq = tl.arange(0, BLOCK_Q)
    d = tl.arange(0, BLOCK_D)
    d_ok = d < D

    q_off = ((n * sqn + h * sqh)[:, None, None] + (fq * sqf)[None, :, None]
             + (d * sqd)[None, None, :])
    q_msk = seq_ok[:, None, None] & (fq < LQ)[None, :, None] & d_ok[None, None, :]
    q = tl.load(q_ptr + q_off, mask=q_msk, other=0.0).to(tl.float32)
    row_msk = seq_ok[:, None] & d_ok[None, :]
    k_base = k_ptr + (n * skn + h * skh)[:, None] + (d * skd)[None, :]
    v_base = v_ptr + (n * svn + h * svh)[:, None] + (d * svd)[None, :]

    m = tl.full((BLOCK_N, BLOCK_Q), float("-inf"), tl.float32)
    denom = tl.zeros((BLOCK_N, BLOCK_Q), tl.float32)
    acc = tl.zeros((BLOCK_N, BLOCK_Q, BLOCK_D), tl.float32)
    for j in range(0, LK):
        kj = tl.load(k_base + j * skf, mask=row_msk, other=0.0).to(tl.float32)  # (BLOCK_N, BLOCK_D)
        vj = tl.load(v_base + j * svf, mask=row_msk, other=0.0).to(tl.float32)
        sj = tl.sum(q * kj[:, None, :], axis=2) * qk_scale  # (BLOCK_N, BLOCK_Q)
        m_new = tl.maximum(m, sj)
        alpha = tl.exp2(m - m_new)
        pj = tl.exp2(sj - m_new)
        denom = denom * alpha + pj
        acc = acc * alpha[:, :, None] + pj[:, :, None] * vj[:, None, :]
        m = m_new
    o = acc / denom[:, :, None]

    o_off = ((n * son + h * soh)[:, None, None] + (fq * sof)[None, :, None]
             + (d * sod)[None, None, :])
    tl.store(o_ptr + o_off, o.to(o_ptr.dtype.element_ty), mask=q_msk)


@triton.jit
def _gn_stats_kernel(
    x_ptr, part_ptr,
    G, CPG, S, P, CHUNK, SPLIT, GROUP_BLOCKS,
    sxn, sxc, sxt, sxs,
    BLOCK_G: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr,
):
    pid0 = tl.program_id(0)
    pid_s = tl.program_id(1)
    n = pid0 // GROUP_BLOCKS
    g = (pid0 % GROUP_BLOCKS) * BLOCK_G + tl.arange(0, BLOCK_G)
    ci = tl.arange(0, BLOCK_C)
    cm = (g < G)[:, None] & (ci < CPG)[None, :]  # (BLOCK_G, BLOCK_C)
    c_off = ((g[:, None] * CPG + ci[None, :]).to(tl.int64) * sxc)[:, :, None]
    base = x_ptr + n.to(tl.int64) * sxn
    p_begin = pid_s * CHUNK
    p_end = tl.minimum(p_begin + CHUNK, P)

    cnt = tl.zeros((BLOCK_G,), tl.float32)
    mean = tl.zeros((BLOCK_G,), tl.float32)
    m2 = tl.zeros((BLOCK_G,), tl.float32)
    for p0 in range(p_begin, p_end, BLOCK_P):
        p = p0 + tl.arange(0, BLOCK_P)
        pos = (p // S).to(tl.int64) * sxt + (p % S).to(tl.int64) * sxs
        msk = cm[:, :, None] & (p < p_end)[None, None, :]
        x = tl.load(base + c_off + pos[None, None, :], mask=msk, other=0.0).to(tl.float32)
        nb = tl.maximum(tl.sum(tl.sum(msk.to(tl.float32), axis=2), axis=1), 1.0)
        bmean = tl.sum(tl.sum(x, axis=2), axis=1) / nb
        dev = tl.where(msk, x - bmean[:, None, None], 0.0)
        bm2 = tl.sum(tl.sum(dev * dev, axis=2), axis=1)
        # Chan et al.: merge this tile's (nb, bmean, bm2) into the running (cnt, mean, m2).
        tot = cnt + nb
        delta = bmean - mean
        mean = mean + delta * (nb / tot)
        m2 = m2 + bm2 + delta * delta * (cnt * nb / tot)
        cnt = tot

    out = part_ptr + ((n * G + g) * SPLIT + pid_s) * 3
    g_ok = g < G
    tl.store(out, cnt, mask=g_ok)
    tl.store(out + 1, mean, mask=g_ok)
    tl.store(out + 2, m2, mask=g_ok)


@triton.jit
def _gn_apply_kernel(
    x_ptr, y_ptr, w_ptr, b_ptr, part_ptr,
    G, CPG, S, P, CHUNK, SPLIT, GROUP_BLOCKS, eps,
    sxn, sxc, sxt, sxs,
    syn, syc, syt, sys,
    HAS_WEIGHT: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
    BLOCK_G: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr,
    BLOCK_SPLIT: tl.constexpr,
):
    pid0 = tl.program_id(0)
    pid_s = tl.program_id(1)
    n = pid0 // GROUP_BLOCKS
    g = (pid0 % GROUP_BLOCKS) * BLOCK_G + tl.arange(0, BLOCK_G)
    g_ok = g < G

    # Merge the per-chunk (count, mean, M2) of each (sample, group) (Chan et al.).
    si = tl.arange(0, BLOCK_SPLIT)
    pm = g_ok[:, None] & (si < SPLIT)[None, :]
    part = part_ptr + ((n * G + g)[:, None] * SPLIT + si[None, :]) * 3
    cnt_i = tl.load(part, mask=pm, other=0.0)
    mean_i = tl.load(part + 1, mask=pm, other=0.0)
    m2_i = tl.load(part + 2, mask=pm, other=0.0)
    cnt = tl.maximum(tl.sum(cnt_i, axis=1), 1.0)
    mean = tl.sum(cnt_i * mean_i, axis=1) / cnt
    dm = mean_i - mean[:, None]
    m2 = tl.sum(m2_i + cnt_i * dm * dm, axis=1)
    rstd = 1.0 / tl.sqrt(m2 / cnt + eps)

    ci = tl.arange(0, BLOCK_C)
    cm = g_ok[:, None] & (ci < CPG)[None, :]
    ch = g[:, None] * CPG + ci[None, :]  # (BLOCK_G, BLOCK_C)
    if HAS_WEIGHT:
        w = tl.load(w_ptr + ch, mask=cm, other=0.0).to(tl.float32)
    else:
        w = tl.full((BLOCK_G, BLOCK_C), 1.0, tl.float32)
    if HAS_BIAS:
        b = tl.load(b_ptr + ch, mask=cm, other=0.0).to(tl.float32)
    else:
        b = tl.zeros((BLOCK_G, BLOCK_C), tl.float32)
    scale = w * rstd[:, None]
    shift = (b - mean[:, None] * scale)[:, :, None]
    scale = scale[:, :, None]

    x_base = x_ptr + n.to(tl.int64) * sxn + (ch.to(tl.int64) * sxc)[:, :, None]
    y_base = y_ptr + n.to(tl.int64) * syn + (ch.to(tl.int64) * syc)[:, :, None]
    p_begin = pid_s * CHUNK
    p_end = tl.minimum(p_begin + CHUNK, P)
    for p0 in range(p_begin, p_end, BLOCK_P):
        p = p0 + tl.arange(0, BLOCK_P)
        t = (p // S).to(tl.int64)
        s = (p % S).to(tl.int64)
        msk = cm[:, :, None] & (p < p_end)[None, None, :]
        x = tl.load(x_base + (t * sxt + s * sxs)[None, None, :], mask=msk, other=0.0)
        y = x.to(tl.float32) * scale + shift
        if SILU:
            y = y * tl.sigmoid(y)
        tl.store(y_base + (t * syt + s * sys)[None, None, :], y.to(y_ptr.dtype.element_ty),
                 mask=msk)


INTERPRETED: bool = type(_attn_dot_kernel).__name__ == "InterpretedFunction"
