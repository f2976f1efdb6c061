#!/usr/bin/env python3
# PyTorch reference for hemlock's supervised ConvNet-S recipe on the full Fashion-MNIST:
# same architecture (shared/bench/torch_reference.py), He-uniform init, cosine schedule, 10 epochs.
# Usage: /usr/bin/python3 scripts/torch-convnet-s-fashion-mnist.py OPT BATCH LABEL_SMOOTHING flip|noflip
#   e.g. adam0.005 64 0 flip  (hemlock's default recipe), adam0.003 128 0 noflip, sgd0.05 128 0 noflip
import gzip, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, sys, math, time
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'shared', 'bench'))
from torch_reference import convnet_s
def idx(p):
    b = gzip.open(p).read(); nd = b[3]; dims = [int.from_bytes(b[4+4*i:8+4*i],'big') for i in range(nd)]
    return np.frombuffer(b[4+4*nd:], dtype=np.uint8).reshape(dims)
d='/usr/share/datasets/fashion-mnist/'
x = torch.tensor(idx(d+'train-images-idx3-ubyte.gz')/255., dtype=torch.float32).unsqueeze(1)
y = torch.tensor(idx(d+'train-labels-idx1-ubyte.gz').astype(np.int64))
xt = torch.tensor(idx(d+'t10k-images-idx3-ubyte.gz')/255., dtype=torch.float32).unsqueeze(1)
yt = torch.tensor(idx(d+'t10k-labels-idx1-ubyte.gz').astype(np.int64))
torch.manual_seed(0); torch.set_num_threads(1)
mode = sys.argv[1]; B=int(sys.argv[2]); LS=float(sys.argv[3]); FLIP=sys.argv[4]=='flip'
body, head = convnet_s()
for m in list(body)+[head]:
    if isinstance(m,(nn.Conv2d,nn.Linear)): nn.init.kaiming_uniform_(m.weight, nonlinearity='relu'); nn.init.zeros_(m.bias)
params = list(body.parameters())+list(head.parameters())
E=10; steps=E*math.ceil(60000/B)
if mode.startswith('adam'): opt = torch.optim.Adam(params, lr=float(mode[4:]))
else: opt = torch.optim.SGD(params, lr=float(mode[3:]), momentum=0.9, nesterov=True, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
t0=time.time()
for ep in range(E):
    perm = torch.randperm(60000)
    for s in range(0,60000,B):
        i = perm[s:s+B]; xb=x[i]
        if FLIP:
            f=torch.rand(len(i))<0.5; xb=torch.where(f[:,None,None,None], xb.flip(3), xb)
        opt.zero_grad(); F.cross_entropy(head(body(xb)), y[i], label_smoothing=LS).backward(); opt.step(); sched.step()
    with torch.no_grad(): print(mode, ep, (head(body(xt)).argmax(1)==yt).float().mean().item(), time.time()-t0, flush=True)
