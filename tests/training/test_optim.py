"""basinlab.training._optim (GO / SAM / continuous dropout as optax transformations) and
basinlab.training._step (the one train step)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from basinlab.directions import _recipes as D
from basinlab.directions import _treemath as treemath
from basinlab.training import _optim as optim
from basinlab.training._step import cached_step, train_step

from trees import assert_same_params

KEY = jax.random.key(7)


def mlp_params(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"l1": {"kernel": (4, 16)}, "norm": {"scale": (16,)}, "l2": {"kernel": (16, 1)}}
    return jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s) * 0.5, jnp.float32), shapes,
                        is_leaf=lambda x: isinstance(x, tuple))


def mlp_loss(p, batch):
    x, y = batch
    h = jnp.tanh(x @ p["l1"]["kernel"] + 0.1) * p["norm"]["scale"]
    return jnp.mean(jnp.square(h @ p["l2"]["kernel"] - y))


def mlp_batch(seed=1, n=32):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(n, 4)), jnp.float32)
    return x, jnp.sin(x[:, :1]) + 0.1 * x[:, 1:2]


def run(opt, steps=4, params=None, state=None, step=None):
    """Jitted train_step loop on batch seeds 0, 1, ...; returns (params, opt_state, metrics)."""
    params = mlp_params() if params is None else params
    state = opt.init(params) if state is None else state
    step = jax.jit(train_step(mlp_loss, opt)) if step is None else step
    history = []
    for t in range(steps):
        params, state, metrics = step(params, state, mlp_batch(seed=t))
        history.append(metrics)
    return params, state, history


@functools.partial(jax.jit, static_argnames="exclude")
def go_point(theta, key, t, sigma, exclude=None):
    """theta + eps_t by the documented scheme (directions.gaussian), written out independently."""
    z = D.gaussian(jax.random.fold_in(key, t), theta, exclude=exclude)
    return jax.tree.map(lambda x, e: x + sigma * e, theta, z)


mlp_grad = jax.jit(jax.grad(mlp_loss))


def trees_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def adamw():
    return optax.adamw(1e-2, weight_decay=0.0)



@pytest.fixture(scope="module")
def adamw_run():
    return run(adamw())


# ----------------------------------------------------------------------------- reductions to base


def test_go_sigma0_is_exactly_adamw(adamw_run):
    p_ref, _, m_ref = adamw_run
    p_go, _, m_go = run(optim.go(adamw(), sigma=0.0, key=KEY))
    assert_same_params(p_go, p_ref)
    assert [float(m["loss"]) for m in m_go] == [float(m["loss"]) for m in m_ref]
    assert not trees_equal(p_ref, mlp_params())  # the steps did move the params


def test_sam_rho0_and_continuous_dropout_sigma0_equal_base(adamw_run):
    p_ref = adamw_run[0]
    p_sam, _, m_sam = run(optim.sam(adamw(), rho=0.0))
    p_cd, _, _ = run(optim.continuous_dropout(adamw(), sigma=0.0, key=KEY))
    assert_same_params(p_sam, p_ref)
    assert_same_params(p_cd, p_ref)
    assert float(m_sam[0]["loss_theta"]) == float(m_sam[0]["loss"])  # same point when rho = 0


def test_plain_optimizer_point_is_params(adamw_run):
    params = mlp_params()
    state = adamw().init(params)
    assert optim.perturb(params, state) is params
    assert not optim.needs_gradient(state)
    metrics = adamw_run[2][0]
    assert set(metrics) == {"loss", "loss_theta", "grad_norm", "finite"}
    assert float(metrics["loss_theta"]) == float(metrics["loss"]) and bool(metrics["finite"])


# ----------------------------------------------------------------------------- the noise


def stacked_params():
    rng = np.random.default_rng(3)
    shapes = {"layers": {"q": {"kernel": (2, 8, 8)}, "attn_norm": {"scale": (2, 8)}},
              "lm_head": {"kernel": (8, 16)}}
    return jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s), jnp.float32), shapes,
                        is_leaf=lambda x: isinstance(x, tuple))


def test_noise_std_per_leaf_filtered_leaves_exact_and_scheme():
    sigma, n = 0.0625, 256  # a power of two: theta + sigma * z has a single rounding
    params = stacked_params()
    go = optim.go(optax.sgd(0.1), sigma, KEY, exclude=D.NO_NORMS)
    cd = optim.continuous_dropout(optax.sgd(0.1), sigma, KEY)

    @jax.jit
    def draw(params, go_state, cd_state):  # lax.map, not vmap: vmapped PRNG compiles slowly
        return jax.lax.map(lambda c: (optim.perturb(params, go_state._replace(count=c)),
                                      optim.perturb(params, cd_state._replace(count=c))),
                           jnp.arange(n, dtype=jnp.int32))

    go_points, cd_points = draw(params, go.init(params), cd.init(params))
    for path, x, gp, cp in zip(D.paths(params), jax.tree.leaves(params),
                               jax.tree.leaves(go_points), jax.tree.leaves(cd_points), strict=True):
        x = np.asarray(x, np.float64)[None]
        for eps, kind in ((np.asarray(gp, np.float64) - x, "go"),
                          (np.asarray(cp, np.float64) / x - 1, "continuous_dropout")):
            if "norm" in path and kind == "go":
                assert np.all(eps == 0.0), path  # excluded: exactly theta, every step
                continue
            m = eps.size
            assert abs(eps.std() / sigma - 1) < 4 / np.sqrt(2 * m), (kind, path, eps.std())
            assert abs(eps.mean()) < 4 * sigma / np.sqrt(m), (kind, path, eps.mean())
            # independent across steps: correlation of consecutive draws ~ 0
            c = np.corrcoef(eps[:-1].ravel(), eps[1:].ravel())[0, 1]
            assert abs(c) < 4 / np.sqrt(m), (kind, path, c)
    # the documented scheme: eps_t = sigma * directions.gaussian(fold_in(key, t), params, ...),
    # with leaf indices counted over all leaves (excluded ones included)
    assert_same_params(jax.tree.map(lambda a: a[5], go_points),
                       go_point(params, KEY, 5, sigma, exclude=D.NO_NORMS))


def test_fresh_eps_each_step_and_reproducible_from_key():
    # One compiled step for every run: the key is data in the state, the static recipe is equal.
    opt3, opt4 = optim.go(adamw(), 0.05, jax.random.key(3)), optim.go(adamw(), 0.05, 4)
    step = jax.jit(train_step(mlp_loss, opt3))
    params = mlp_params()
    state0 = opt3.init(params)
    _, state1, _ = run(opt3, steps=1, step=step)
    assert int(state0.count) == 0 and int(state1.count) == 1
    perturb = jax.jit(optim.perturb)
    p0, p1 = perturb(params, state0), perturb(params, state1)  # same theta, consecutive steps
    for a, b, x in zip(jax.tree.leaves(p0), jax.tree.leaves(p1), jax.tree.leaves(params), strict=True):
        assert not np.any(np.asarray(a) == np.asarray(b))  # every coordinate redrawn
        assert not np.any(np.asarray(a) == np.asarray(x))
    # the same key replays a run bit for bit; another key does not
    run_a = run(opt3, step=step)
    run_b = run(opt3, step=step)
    run_c = run(opt4, step=step)
    assert_same_params(run_a[0], run_b[0])
    assert [float(m["loss"]) for m in run_a[2]] == [float(m["loss"]) for m in run_b[2]]
    assert not trees_equal(run_a[0], run_c[0])
    # an int seed means jax.random.key(seed)
    np.testing.assert_array_equal(jax.random.key_data(run_c[1].key),
                                  jax.random.key_data(jax.random.key(4)))


# ----------------------------------------------------------------------------- update of theta


def quad_loss(p, batch):
    c, target = batch
    return 0.5 * jnp.sum(c * jnp.square(p["w"] - target))  # gradient c * (w - target)


def test_update_is_applied_to_theta_not_the_point():
    # lr, sigma and c are powers of two, so every product is exact and each expression below has
    # a single rounding: the comparison can be exact whatever XLA fuses.
    lr, sigma = 0.5, 0.125
    rng = np.random.default_rng(0)
    theta = {"w": jnp.asarray(rng.normal(size=(6, 5)), jnp.float32)}
    batch = (jnp.asarray(rng.choice([0.5, 1.0, 2.0], size=(6, 5)), jnp.float32),
             jnp.asarray(rng.normal(size=(6, 5)), jnp.float32))
    opt = optim.go(optax.sgd(lr), sigma, KEY)
    state = opt.init(theta)
    step = jax.jit(train_step(quad_loss, opt))
    for t in range(3):
        new, state, metrics = step(theta, state, batch)
        point = go_point(theta, KEY, t, sigma)["w"]  # eps recomputed from the key and step
        grad = batch[0] * (point - batch[1])
        np.testing.assert_array_equal(new["w"], theta["w"] + (-lr) * grad)
        assert not np.allclose(new["w"], point + (-lr) * grad)  # the point is not what moves
        np.testing.assert_allclose(metrics["loss"], quad_loss({"w": point}, batch), rtol=1e-6)
        theta = new


def test_returned_params_are_theta_after_update_with_adamw():
    # AdamW's weight decay reads the params it is given: handing it theta + eps would show.
    base, sigma = optax.adamw(1e-2, weight_decay=0.5), 0.05
    params, _, _ = run(optim.go(base, sigma, KEY), steps=3)

    @jax.jit
    def ref_step(theta, ref_state, t, batch):
        grads = jax.grad(mlp_loss)(go_point(theta, KEY, t, sigma), batch)
        updates, ref_state = base.update(grads, ref_state, theta)
        return optax.apply_updates(theta, updates), ref_state

    theta = mlp_params()
    ref_state = base.init(theta)
    for t in range(3):
        theta, ref_state = ref_step(theta, ref_state, t, mlp_batch(seed=t))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(theta), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_sam_point_and_two_pass_step():
    rho, lr = 0.05, 0.1
    params, batch = mlp_params(), mlp_batch()
    opt = optim.sam(optax.sgd(lr), rho)
    state = opt.init(params)
    assert optim.needs_gradient(state)
    with pytest.raises(ValueError, match="gradient at theta"):
        optim.perturb(params, state)
    g = mlp_grad(params, batch)
    point = jax.jit(optim.perturb)(params, state, g)
    delta = jax.tree.map(lambda a, b: a - b, point, params)
    np.testing.assert_allclose(treemath.global_norm(delta), rho, rtol=1e-4)
    np.testing.assert_allclose(treemath.cosine(delta, g), 1.0, rtol=1e-5)
    new, _, m = jax.jit(train_step(mlp_loss, opt))(params, state, batch)
    g_point = mlp_grad(point, batch)
    for a, x, gp in zip(jax.tree.leaves(new), jax.tree.leaves(params), jax.tree.leaves(g_point), strict=True):
        np.testing.assert_allclose(a, x - lr * gp, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m["loss_theta"], mlp_loss(params, batch), rtol=1e-6)
    assert float(m["loss"]) > float(m["loss_theta"])  # the ascent step does go uphill


def test_loss_at_theta_only_on_request():
    opt = optim.go(adamw(), 0.05, KEY)
    params, batch = mlp_params(), mlp_batch()
    state = opt.init(params)
    default = jax.eval_shape(train_step(mlp_loss, opt), params, state, batch)[2]
    assert set(default) == {"loss", "grad_norm", "finite"}  # not free for GO: no extra forward by default
    _, _, m = jax.jit(train_step(mlp_loss, opt, loss_at_theta=True))(params, state, batch)
    np.testing.assert_allclose(m["loss_theta"], mlp_loss(params, batch), rtol=1e-6)
    assert float(m["loss"]) != float(m["loss_theta"])


def test_finite_flags_a_non_finite_update():
    opt = optax.sgd(float("inf"))  # a non-finite update although loss and gradient are finite
    params, state = mlp_params(), opt.init(mlp_params())
    _, _, m = jax.jit(train_step(mlp_loss, opt))(params, state, mlp_batch())
    assert np.isfinite(float(m["loss"])) and np.isfinite(float(m["grad_norm"]))
    assert not bool(m["finite"])


# ----------------------------------------------------------------------------- micro-batches and caching


def test_micro_batches_sum_to_the_whole_batch_gradient():
    """Two micro-batches of a loss normalized by the whole batch: the same step as one batch."""
    x, y = mlp_batch(n=32)

    def half_loss(p, batch):  # each half's squared error sum / 32: the sum is the mean over 32
        xb, yb = batch
        h = jnp.tanh(xb @ p["l1"]["kernel"] + 0.1) * p["norm"]["scale"]
        return jnp.sum(jnp.square(h @ p["l2"]["kernel"] - yb)) / 32

    micro = (x.reshape(2, 16, 4), y.reshape(2, 16, 1))
    for opt in (optax.sgd(0.1),):  # no noise: the same point for both halves
        params, state = mlp_params(), opt.init(mlp_params())
        whole = jax.jit(train_step(mlp_loss, opt))(params, state, (x, y))
        split = jax.jit(train_step(half_loss, opt, micro_batches=True))(params, state, micro)
        np.testing.assert_allclose(split[2]["loss"], whole[2]["loss"], rtol=1e-5)
        for a, b in zip(jax.tree.leaves(split[0]), jax.tree.leaves(whole[0]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # GO, one micro-batch of all 32 rows: no scan, the eps of the unsplit batch, the same step
    opt = optim.go(optax.sgd(0.1), 0.05, KEY)
    params, state = mlp_params(), opt.init(mlp_params())
    whole = jax.jit(train_step(mlp_loss, opt))(params, state, (x, y))
    one = jax.jit(train_step(half_loss, opt, micro_batches=True))(params, state, (x[None], y[None]))
    np.testing.assert_allclose(one[2]["loss"], whole[2]["loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(one[0]), jax.tree.leaves(whole[0]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert int(one[1].count) == 1


def test_go_draws_a_fresh_eps_for_every_micro_batch():
    """Gradient accumulation inside one step: micro-batch j is evaluated at theta + eps_{t,j}, eps
    from fold_in(fold_in(key, t), j), and the summed gradient updates theta."""
    x, y = mlp_batch(n=32)
    k, sigma, lr = 2, 0.05, 0.1

    def part_loss(p, batch):  # each micro-batch's squared error sum / 32
        xb, yb = batch
        h = jnp.tanh(xb @ p["l1"]["kernel"] + 0.1) * p["norm"]["scale"]
        return jnp.sum(jnp.square(h @ p["l2"]["kernel"] - yb)) / 32

    opt = optim.go(optax.sgd(lr), sigma, KEY)
    theta = mlp_params()
    state = opt.init(theta)
    micro = (x.reshape(k, 16, 4), y.reshape(k, 16, 1))
    step = jax.jit(train_step(part_loss, opt, micro_batches=True))
    params, state1, metrics = step(theta, state, micro)
    # reference, written out: the point of micro-batch j, its gradient, the sum
    point_at = jax.jit(lambda j: optim.perturb(theta, state, micro_batch=j))
    points = [point_at(j) for j in range(k)]
    # the documented key scheme, for the last micro-batch
    z = D.gaussian(jax.random.fold_in(jax.random.fold_in(KEY, 0), k - 1), theta)
    for a, t, e in zip(jax.tree.leaves(points[-1]), jax.tree.leaves(theta), jax.tree.leaves(z), strict=True):
        np.testing.assert_allclose(a, t + sigma * e, rtol=1e-6, atol=1e-7)
    eps = [np.concatenate([np.ravel(a - t) for a, t in zip(jax.tree.leaves(p), jax.tree.leaves(theta), strict=True)])
           for p in points]
    assert abs(np.corrcoef(eps[0], eps[1])[0, 1]) < 0.5  # each micro-batch has its own noise
    value_and_grad = jax.jit(jax.value_and_grad(part_loss))
    losses, grads = zip(*[value_and_grad(points[j], (micro[0][j], micro[1][j])) for j in range(k)], strict=True)
    total = jax.tree.map(lambda *g: sum(g), *grads)
    want = jax.tree.map(lambda t, g: t - lr * g, theta, total)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], sum(losses), rtol=1e-5)
    assert int(state1.count) == 1  # one optimizer step
    # the old behaviour, one eps shared by all micro-batches, gives another update
    shared = optim.perturb(theta, state)
    shared_total = jax.tree.map(lambda *g: sum(g), *[value_and_grad(shared, (micro[0][j], micro[1][j]))[1]
                                                     for j in range(k)])
    assert not np.allclose(jax.tree.leaves(total)[0], jax.tree.leaves(shared_total)[0], rtol=1e-3)


def test_cached_step_is_compiled_once_per_loss_and_optimizer():
    opt, other = adamw(), adamw()
    step = cached_step(mlp_loss, opt)
    assert cached_step(mlp_loss, opt) is step
    assert cached_step(mlp_loss, other) is not step
    assert cached_step(mlp_loss, opt, micro_batches=True) is not step
    params, state = mlp_params(), opt.init(mlp_params())
    got = step(params, state, mlp_batch())
    want = jax.jit(train_step(mlp_loss, opt))(params, state, mlp_batch())
    assert_same_params(got[0], want[0])


# ----------------------------------------------------------------------------- composition


def test_multisteps_inside_go_fresh_eps_per_micro_batch():
    k, sigma, lr = 2, 0.05, 1e-2
    opt = optim.go(optax.MultiSteps(optax.adam(lr), every_k_schedule=k), sigma, KEY)
    step = jax.jit(train_step(mlp_loss, opt))
    p1, _, _ = run(opt, steps=1, step=step)
    assert_same_params(p1, mlp_params())  # first micro-batch: accumulated, nothing applied yet
    params, state, _ = run(opt, steps=4, step=step)
    assert int(state.count) == 4
    # reference: mean of k gradients, each at theta + its own eps_t, then one Adam step on theta
    base, theta = optax.adam(lr), mlp_params()
    ref_state = base.init(theta)
    for window in range(2):
        ts = range(window * k, window * k + k)
        grads = [mlp_grad(go_point(theta, KEY, t, sigma), mlp_batch(seed=t)) for t in ts]
        mean = jax.tree.map(lambda *g: sum(g) / k, *grads)
        updates, ref_state = jax.jit(base.update)(mean, ref_state, theta)
        theta = optax.apply_updates(theta, updates)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(theta), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_go_inside_multisteps_is_refused():
    opt = optax.MultiSteps(optim.go(adamw(), 0.05, KEY), every_k_schedule=2)
    params = mlp_params()
    with pytest.raises(ValueError, match=r"go\(optax.MultiSteps"):
        optim.perturb(params, opt.init(params))


def test_chain_with_clipping_either_side():
    lr, max_norm = 0.1, 0.05  # small max_norm: the clip is active on this problem
    clip = optax.clip_by_global_norm(max_norm)
    outer = optax.chain(clip, optim.go(optax.sgd(lr), 0.05, KEY))
    inner = optim.go(optax.chain(clip, optax.sgd(lr)), 0.05, KEY)
    step = jax.jit(train_step(mlp_loss, outer))
    p_outer, s_outer, hist = run(outer, steps=3, step=step)
    p_inner, _, _ = run(inner, steps=3)
    assert_same_params(p_outer, p_inner)  # both clip the gradient taken at the point
    assert int(s_outer[1].count) == 3
    p1, _, hist = run(outer, steps=1, step=step)
    assert float(hist[0]["grad_norm"]) > max_norm
    moved = jax.tree.map(lambda a, b: a - b, p1, mlp_params())
    np.testing.assert_allclose(treemath.global_norm(moved), lr * max_norm, rtol=1e-4)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, name", [
    (lambda: optim.go(adamw(), sigma=-0.1, key=KEY), "sigma"),
    (lambda: optim.go(adamw(), sigma=float("nan"), key=KEY), "sigma"),
    (lambda: optim.continuous_dropout(adamw(), sigma=-1.0, key=KEY), "sigma"),
    (lambda: optim.sam(adamw(), rho=-0.5), "rho"),
])
def test_negative_radius_raises_naming_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_other_bad_input():
    with pytest.raises(TypeError, match="sigma"):
        optim.go(adamw(), sigma="0.1", key=KEY)
    with pytest.raises(TypeError, match="sigma must be a concrete number"):
        jax.jit(lambda s: optim.go(adamw(), sigma=s, key=KEY) and s)(0.1)
    with pytest.raises(TypeError, match="key"):
        optim.go(adamw(), sigma=0.1, key=None)
    with pytest.raises(ValueError, match="matches no parameter"):
        optim.go(adamw(), 0.1, KEY, exclude="nrom/*").init(mlp_params())
    with pytest.raises(ValueError, match="leave no float parameter"):
        optim.go(adamw(), 0.1, KEY, include="norm/*", exclude="norm/*").init(mlp_params())
    state = optim.go(adamw(), 0.1, KEY).init(mlp_params())
    with pytest.raises(ValueError, match="do not match"):
        optim.perturb({"w": jnp.zeros(3)}, state)
    with pytest.raises(ValueError, match="2 perturbations"):
        nested = optim.go(optim.sam(adamw(), 0.1), 0.1, KEY)
        optim.perturb(mlp_params(), nested.init(mlp_params()))
