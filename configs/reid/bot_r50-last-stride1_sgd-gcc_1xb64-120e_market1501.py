# GC twin of bot_r50-last-stride1_adam_1xb64-120e_market1501.py: only the
# optimizer differs. SGD with momentum and Gradient Centralization of the
# conv weights (SGD_GCC), lr 0.03, weight decay 0.002 on weights and biases
# (mmengine applies weight_decay to biases too, so no paramwise_cfg needed).
_base_ = './bot_r50-last-stride1_adam_1xb64-120e_market1501.py'

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='SGD_GCC',
        lr=0.03,
        momentum=0.9,
        weight_decay=0.002))
