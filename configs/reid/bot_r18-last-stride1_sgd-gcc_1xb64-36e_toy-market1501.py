# GC twin of bot_r18-last-stride1_adam_1xb64-36e_toy-market1501.py: only the
# optimizer differs, and it is the Market-1501 twin's (SGD_GCC, lr 0.03,
# weight decay 0.002 on weights and biases).
_base_ = './bot_r18-last-stride1_adam_1xb64-36e_toy-market1501.py'

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='SGD_GCC',
        lr=0.03,
        momentum=0.9,
        weight_decay=0.002))
