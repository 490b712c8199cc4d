"""Time nstutils.style_transfer against a plain tutorial-style implementation of the same loss.

The reference is written the way most tutorials write it: the network rebuilt as one
``nn.Sequential`` with ``ContentLoss`` / ``StyleLoss`` modules inserted after the chosen layers,
fp32, one image at a time, a Python loop with Adam and a clamp. It optimizes the same objective
as `nstutils.style_transfer` (same layers, weights and normalizations, no mirror padding), on the
same network, for the same number of steps, in the same run. Both results are then scored by
the same evaluator: the reference's own loss modules.

Run:  python benchmarks/bench_style_transfer.py [--sizes 256 512] [--steps 300] [--device cpu]
"""

import argparse
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import nstutils as nst
from nstutils.style import CONTENT_WEIGHT, LEARNING_RATES, STYLE_WEIGHT, TV_WEIGHT, default_layers

LR = LEARNING_RATES["adam"]


# --- the reference, tutorial style ------------------------------------------------------------

def gram(x):
    n, c, h, w = x.size()
    f = x.view(n * c, h * w)
    return torch.mm(f, f.t()) / (h * w)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()
        self.scale = self.target.pow(2).mean()
        self.loss = torch.tensor(0.0)

    def forward(self, x):
        self.loss = F.mse_loss(x, self.target) / self.scale
        return x


class StyleLoss(nn.Module):
    def __init__(self, target_feature, weight=1.0):
        super().__init__()
        self.target = gram(target_feature).detach()
        self.weight = weight
        self.loss = torch.tensor(0.0)

    def forward(self, x):
        self.loss = self.weight * ((gram(x) - self.target) ** 2).sum()
        return x


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = mean.clone().view(-1, 1, 1)
        self.std = std.clone().view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def build_reference(model, content, style, content_layers, style_layers):
    """Unroll EfficientNet-Lite0 into a Sequential with loss modules after the chosen layers."""
    net = model.net
    seq = nn.Sequential(Normalization(model.mean[0, :, 0, 0], model.std[0, :, 0, 0]),
                        net._conv_stem, net._bn0, net.stem_act)
    content_losses, style_losses = [], []
    last = max(model.layers.index(n) for n in content_layers + style_layers)

    def add_losses(name):
        if name in content_layers:
            loss = ContentLoss(seq(content))
            seq.add_module(f"content_{name.replace('.', '_')}", loss)
            content_losses.append(loss)
        if name in style_layers:
            loss = StyleLoss(seq(style))
            seq.add_module(f"style_{name.replace('.', '_')}", loss)
            style_losses.append(loss)

    for i, block in enumerate(net._blocks):
        first = f"block{i}.expand" if f"block{i}.expand" in model.layers else f"block{i}.depthwise"
        if model.layers.index(first) > last:
            break
        if f"block{i}.expand" in style_layers:
            assert not block.residual, "only non-residual blocks can be unrolled"
            for part in (block._expand_conv, block._bn0, block.expand):
                seq.add_module(f"b{i}_{len(seq)}", part)
            add_losses(f"block{i}.expand")
            for part in (block._depthwise_conv, block._bn1, block.depthwise,
                         block._project_conv, block._bn2):
                seq.add_module(f"b{i}_{len(seq)}", part)
        else:
            seq.add_module(f"block{i}", block)
        add_losses(f"block{i}")
    # E_l of the content image normalizes every style layer to start near 1 (as nstutils does).
    with torch.no_grad():
        seq(content)
    for loss in style_losses:
        loss.weight = 1.0 / (len(style_losses) * float(loss.loss))
    return seq, content_losses, style_losses


def tv(img):
    return (img[:, :, 1:, :] - img[:, :, :-1, :]).pow(2).mean() + \
        (img[:, :, :, 1:] - img[:, :, :, :-1]).pow(2).mean()


def reference_transfer(model, content, style, steps, lr):
    content_layers, style_layers = default_layers(model)
    seq, c_losses, s_losses = build_reference(model, content, style, content_layers, style_layers)
    img = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        seq(img)
        c = sum(l.loss for l in c_losses) / len(c_losses)
        s = sum(l.loss for l in s_losses)
        loss = CONTENT_WEIGHT * c + STYLE_WEIGHT * s + TV_WEIGHT * tv(img)
        loss.backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0, 1)
    return img.detach(), (seq, c_losses, s_losses)


def score(evaluator, img):
    """The reference's total loss of an image: the common yardstick for both results."""
    seq, c_losses, s_losses = evaluator
    with torch.no_grad():
        seq(img)
        c = float(sum(l.loss for l in c_losses) / len(c_losses))
        s = float(sum(l.loss for l in s_losses))
    total = CONTENT_WEIGHT * c + STYLE_WEIGHT * s + TV_WEIGHT * float(tv(img))
    return {"content": c, "style": s, "total": total}


# --- measuring ----------------------------------------------------------------------------------

class PeakMemory:
    """Peak GPU memory, or the peak resident memory of this process sampled every 5 ms on CPU."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak, self._stop = _rss(), threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()


def _rss():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def timed(device, fn, *args, **kwargs):
    """Run fn(*args, **kwargs); return its result, the seconds it took and the peak memory."""
    with PeakMemory(device) as memory:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return out, seconds, memory.peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else nst.default_device()
    model = nst.load_model(device=device)
    print(f"device: {nst.describe_device(device)}, torch {torch.__version__}, "
          f"{args.steps} steps, Adam lr {LR}\n")
    warm = nst.sample_image("chelsea", size=64, device=device)  # pay one-off kernel set-up here
    warm_style = nst.sample_image("swirl", size=tuple(warm.shape[-2:]), device=device)
    reference_transfer(model, warm, warm_style, 2, LR)
    nst.style_transfer(warm, warm_style, model, 2, progress=False)
    print(f"{'size':>5} {'impl':>10} {'steps/s':>8} {'wall s':>8} {'peak MiB':>9} "
          f"{'content':>8} {'style':>8} {'total':>8}")
    for size in args.sizes:
        content = nst.sample_image("chelsea", size=size, device=device)
        style = nst.sample_image("swirl", size=tuple(content.shape[-2:]), device=device)
        (ref_img, evaluator), ref_s, ref_mem = timed(
            device, reference_transfer, model, content, style, args.steps, LR)
        ours, our_s, our_mem = timed(
            device, nst.style_transfer, content, style, model, args.steps, progress=False)
        for name, img, seconds, mem in (("reference", ref_img, ref_s, ref_mem),
                                        ("nstutils", ours, our_s, our_mem)):
            losses = score(evaluator, img)
            print(f"{size:>5} {name:>10} {args.steps / seconds:>8.2f} {seconds:>8.1f} "
                  f"{mem / 2**20:>9.0f} {losses['content']:>8.3f} {losses['style']:>8.4f} "
                  f"{losses['total']:>8.3f}")
        print(f"{size:>5} {'speed-up':>10} {ref_s / our_s:>8.2f}x\n")


if __name__ == "__main__":
    main()
