"""Time nstutils against plain tutorial-style implementations: style transfer, DeepDream, visualization.

The reference is written the way most tutorials write it: the network rebuilt as one
``nn.Sequential`` with ``ContentLoss`` / ``StyleLoss`` modules inserted after the chosen layers,
fp32, one image at a time, a Python loop with Adam at a constant learning rate and a clamp. It
optimizes the same objective as `nstutils.style_transfer` (same layers, weights,
normalizations and mirror border), on the same network, in the same run. nstutils runs twice:
with the same number of steps at full size, and coarse to fine (half size, then full size, 200
steps in all). Every result is scored by the same evaluator: the reference's own loss modules.

DeepDream and feature visualization are compared the same way with plain references: a full
forward to the logits with a hook on the layer, one image, gradient steps on the pixels (the
dream: normalized-gradient ascent per octave with roll jitter; the visualization: Adam on the
pixels with roll jitter). Each pair is scored by the objective it climbs.

Run:  python benchmarks/bench_style_transfer.py [--sizes 256 512] [--steps 300]
      [--coarse-steps 100 100] [--device cpu] [--dream-size 512] [--vis-size 128] [--busy]

With --busy, a second process keeps one core busy for the whole run, as a browser or a second
notebook does on a student's laptop.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import nstutils as nst  # before torch: it sets passive OpenMP waiting (see bench_threads.py)
import torch
import torch.nn.functional as F
from torch import nn

from nstutils.style import BORDER
from nstutils.style_settings import (CONTENT_WEIGHT, LEARNING_RATES, STYLE_WEIGHT, TV_WEIGHT,
                                     default_layers)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from busy import busy_process  # noqa: E402

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


def mirror(img):
    """Pad with a mirror border, as nstutils does before the network (same objective)."""
    return F.pad(img, (BORDER,) * 4, mode="reflect")


def build_reference(model, content, style, content_layers, style_layers):
    """Unroll EfficientNet-Lite0 into a Sequential with loss modules after the chosen layers."""
    net = model.net
    seq = nn.Sequential(Normalization(model.mean[0, :, 0, 0], model.std[0, :, 0, 0]),
                        net._conv_stem, net._bn0, net.stem_act)
    content_losses, style_losses = [], []
    last = max(model.layers.index(n) for n in content_layers + style_layers)

    def add_losses(name):
        if name in content_layers:
            loss = ContentLoss(seq(mirror(content)))
            seq.add_module(f"content_{name.replace('.', '_')}", loss)
            content_losses.append(loss)
        if name in style_layers:
            # The style image may differ in size from the content: skip the content losses.
            body = nn.Sequential(*(m for m in seq if not isinstance(m, ContentLoss)))
            loss = StyleLoss(body(style))
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
        seq(mirror(content))
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
        seq(mirror(img))
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
        seq(mirror(img))
        c = float(sum(l.loss for l in c_losses) / len(c_losses))
        s = float(sum(l.loss for l in s_losses))
    total = CONTENT_WEIGHT * c + STYLE_WEIGHT * s + TV_WEIGHT * float(tv(img))
    return {"content": c, "style": s, "total": total}


def hooked_activation(model, image, layer):
    """Tutorial style: run the whole network to the logits and catch one layer with a hook."""
    with model.capture(layer) as acts:
        model(image)
    return acts[layer]


def reference_dream(model, photo, layer, octaves, scale, steps, lr, jitter, seed=0):
    """DeepDream as tutorials write it: per octave, normalized gradient ascent with roll jitter."""
    torch.manual_seed(seed)
    h, w = photo.shape[-2:]
    sizes = [(round(h / scale ** i), round(w / scale ** i)) for i in range(octaves)][::-1]
    base = F.interpolate(photo, size=sizes[0], mode="bilinear", align_corners=False)
    img = base.clone()
    for i, size in enumerate(sizes):
        if i:
            nxt = F.interpolate(photo, size=size, mode="bilinear", align_corners=False)
            detail = F.interpolate(img - base, size=size, mode="bilinear", align_corners=False)
            img, base = (nxt + detail).clamp(0, 1), nxt
        for _ in range(steps):
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,)))
            x = img.roll((dy, dx), (-2, -1)).requires_grad_(True)
            hooked_activation(model, x, layer).pow(2).mean().backward()
            grad = x.grad.roll((-dy, -dx), (-2, -1))
            img = (img + lr * grad / (grad.abs().mean() + 1e-8)).clamp(0, 1).detach()
    return img


def reference_visualize(model, layer, channel, size, steps, lr, jitter, seed=0):
    """Feature visualization as tutorials write it: Adam on pixels, roll jitter, full forward."""
    torch.manual_seed(seed)
    img = (0.5 + 0.01 * torch.randn(1, 3, size, size)).to(model.device).requires_grad_(True)
    opt = torch.optim.Adam([img], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,)))
        act = hooked_activation(model, img.roll((dy, dx), (-2, -1)), layer)
        (-act[:, channel].mean()).backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0, 1)
    return img.detach()


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
    parser.add_argument("--coarse-steps", type=int, nargs=2, default=[100, 100],
                        help="nstutils coarse to fine: steps at half size, then at full size")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dream-size", type=int, default=512)
    parser.add_argument("--vis-size", type=int, default=128)
    parser.add_argument("--busy", action="store_true",
                        help="run every task with a second busy process beside it (a laptop)")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else nst.default_device()
    model = nst.load_model(device=device)
    print(f"device: {nst.describe_device(device)}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"{'one busy process beside' if args.busy else 'quiet'}, {args.steps} steps, "
          f"Adam lr {LR}\n")
    with busy_process(args.busy):
        run_all(args, model, device)


def run_all(args, model, device):
    """Every comparison of the benchmark, in order."""
    warm = nst.sample_image("chelsea", size=64, device=device)  # pay one-off kernel set-up here
    warm_style = nst.sample_image("swirl", size=tuple(warm.shape[-2:]), device=device)
    reference_transfer(model, warm, warm_style, 2, LR)
    nst.style_transfer(warm, warm_style, model, 2, progress=False)
    for size in args.sizes:
        bench_transfer(model, device, size, args.steps, args.coarse_steps)
    bench_dream(model, device, args.dream_size)
    bench_visualize(model, device, args.vis_size)


def bench_transfer(model, device, size, steps, coarse_steps):
    """Style transfer at one size: the reference, nstutils with the same steps, and coarse to fine.

    Every result is scored by the reference's own loss modules at full size.
    """
    content = nst.sample_image("chelsea", size=size, device=device)
    style = nst.sample_image("swirl", size=tuple(content.shape[-2:]), device=device)
    (ref_img, evaluator), ref_s, ref_mem = timed(
        device, reference_transfer, model, content, style, steps, LR)
    runs = {"reference": ([steps], ref_img, ref_s, ref_mem)}
    for name, n_steps, sizes in (("nstutils", [steps], [size]),
                                 ("nstutils coarse to fine", coarse_steps, [size // 2, size])):
        img, seconds, mem = timed(device, nst.style_transfer, content, style, model,
                                  steps=n_steps, sizes=sizes, progress=False)
        runs[name] = (n_steps, img, seconds, mem)
    print(f"style transfer {size} px {'steps':>15} {'steps/s':>8} {'wall s':>8} {'peak MiB':>9} "
          f"{'content':>8} {'style':>8} {'total':>8} {'speed-up':>9}")
    for name, (n_steps, img, seconds, mem) in runs.items():
        losses = score(evaluator, img)
        print(f"  {name:<25} {'+'.join(map(str, n_steps)):>9} {sum(n_steps) / seconds:>8.2f} "
              f"{seconds:>8.1f} {mem / 2**20:>9.0f} {losses['content']:>8.3f} "
              f"{losses['style']:>8.4f} {losses['total']:>8.3f} {ref_s / seconds:>8.2f}x")
    print()


def report(task, steps, runs, score_name):
    """Print one line per implementation and the speed-up; runs: name -> (seconds, memory, score)."""
    print(f"{task:<34} {'steps/s':>8} {'wall s':>8} {'peak MiB':>9} {score_name:>10}")
    for name, (seconds, mem, value) in runs.items():
        print(f"  {name:<32} {steps / seconds:>8.2f} {seconds:>8.1f} {mem / 2**20:>9.0f} "
              f"{value:>10.3f}")
    (ref_s, *_), (our_s, *_) = runs.values()
    print(f"  {'speed-up':<32} {ref_s / our_s:>8.2f}x\n")


def bench_dream(model, device, size, layer="block8", octaves=3, steps=20):
    """DeepDream: nstutils.deep_dream against reference_dream, scored by the dream objective."""
    photo = nst.sample_image("rocket", size=size, device=device)
    ref, ref_s, ref_mem = timed(device, reference_dream, model, photo, layer, octaves, 1.4, steps,
                                0.01, 32)
    ours, our_s, our_mem = timed(device, nst.deep_dream, photo, model, layer, octaves=octaves,
                                 steps=steps, progress=False)
    score = {name: nst.dream_objective(img, model, layer) for name, img in (("r", ref), ("o", ours))}
    report(f"DeepDream {size} px, {octaves} octaves", octaves * steps,
           {"reference": (ref_s, ref_mem, score["r"]), "nstutils": (our_s, our_mem, score["o"])},
           f"{layer} L2")


def bench_visualize(model, device, size, layer="block7", channel=42, steps=256):
    """Feature visualization: nstutils.visualize against reference_visualize."""
    objective = nst.channel(layer, channel)
    ref, ref_s, ref_mem = timed(device, reference_visualize, model, layer, channel, size, steps,
                                0.05, 8)
    ours, our_s, our_mem = timed(device, nst.visualize, objective, model, size=size, steps=steps,
                                 progress=False)
    runs = {"reference (pixels)": (ref_s, ref_mem, nst.robust_score(model, objective, ref)),
            "nstutils (Fourier + transforms)": (our_s, our_mem,
                                                nst.robust_score(model, objective, ours))}
    report(f"visualize {layer}:{channel}, {size} px", steps, runs, "robust")


if __name__ == "__main__":
    main()
