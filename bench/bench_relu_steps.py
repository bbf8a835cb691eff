"""Issue 13 progress measurement: Training-step time of a ResNet-8 and a MobileNet-style net at batch 64 (32x32), pycnn vs torch
(2 threads each), and pycnn with ReLU as numpy glue (the previous implementation)."""
import sys, time, numpy as np
import pycnn, torch
torch.set_num_threads(2); pycnn.set_num_threads(2)

def build(lib, kind):
    nn = lib.nn
    def cbr(cin, cout, s=1, g=1, k=3):
        return [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    if kind == "mobile":
        L = cbr(3, 32)
        for cin, cout, s in [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1)]:
            L += cbr(cin, cin, s, cin) + cbr(cin, cout, 1, 1, 1)
        L += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
        return nn.Sequential(*L)
    class Block(nn.Module):
        def __init__(self, cin, cout, s):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout)
            self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout)) if s != 1 or cin != cout else None
            self.relu = nn.ReLU()
        def forward(self, x):
            out = self.relu(self.b1(self.c1(x)))
            out = self.b2(self.c2(out))
            out = out + (x if self.sc is None else self.sc(x))
            return self.relu(out)
    return nn.Sequential(*cbr(3, 16), Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

def timer(lib, kind, reps=8):
    m = build(lib, kind)
    opt = lib.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = lib.randn(64, 3, 32, 32); y = lib.randint(0, 10, (64,))
    F = lib.nn.functional
    def step():
        opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
    for _ in range(2): step()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))

glue_fwd = lambda self, x: self.__dict__.__setitem__("y", np.maximum(x, x.dtype.type(0))) or self.y
def glue_bwd(self, g):
    return np.where(self.y <= 0, g.dtype.type(0), g)
orig = (pycnn.ops.Relu.forward, pycnn.ops.Relu.backward)
for kind in ("resnet8", "mobile"):
    rows = []
    for rnd in range(3):
        t_torch = timer(torch, kind)
        t_new = timer(pycnn, kind)
        pycnn.ops.Relu.forward, pycnn.ops.Relu.backward = glue_fwd, glue_bwd
        t_glue = timer(pycnn, kind)
        pycnn.ops.Relu.forward, pycnn.ops.Relu.backward = orig
        rows.append((t_torch, t_new, t_glue))
    t_torch, t_new, t_glue = (min(r[i] for r in rows) for i in range(3))
    print(f"{kind}: torch {t_torch:.1f} ms | pycnn {t_new:.1f} ms ({t_torch / t_new:.2f}x torch's speed) | "
          f"pycnn with glue ReLU {t_glue:.1f} ms ({t_torch / t_glue:.2f}x)")
