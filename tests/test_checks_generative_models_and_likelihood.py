"""utils.checks.generative_models_and_likelihood: each check passes the right answer and names the known mistakes."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from utils.checks import generative_models_and_likelihood

CODE = re.compile(r"torch\.(?!Tensor)|np\.|\.mean\(|\.sum\(|dim=|correction=")


def assert_no_code(message: str) -> None:
    """A failure message names the mistake in words and math, never the code that fixes it."""
    assert not CODE.search(message), message


# ---------------------------------------------------------------- Gaussian log-likelihood


def loglik_right(x, mu, Sigma):
    d = x.shape[1]
    diff = x - mu
    maha = (diff @ torch.linalg.inv(Sigma) * diff).sum(1)
    return (-0.5 * d * math.log(2 * math.pi) - 0.5 * torch.logdet(Sigma) - 0.5 * maha).mean()


def loglik_parts(x, mu, Sigma):
    """Return (constant, log-det, quadratic [N]) so wrong answers can leave pieces out."""
    d = x.shape[1]
    diff = x - mu
    maha = (diff @ torch.linalg.inv(Sigma) * diff).sum(1)
    return 0.5 * d * math.log(2 * math.pi), torch.logdet(Sigma), maha


def test_loglik_right_answers_pass():
    assert generative_models_and_likelihood.check_gaussian_log_likelihood(loglik_right)
    library = lambda x, mu, S: torch.distributions.MultivariateNormal(mu, S).log_prob(x).mean()
    assert generative_models_and_likelihood.check_gaussian_log_likelihood(library)
    as_float = lambda x, mu, S: float(loglik_right(x, mu, S))
    assert generative_models_and_likelihood.check_gaussian_log_likelihood(as_float)
    in_float32 = lambda x, mu, S: loglik_right(x.float(), mu.float(), S.float())
    assert generative_models_and_likelihood.check_gaussian_log_likelihood(in_float32)


def test_loglik_stub_fails():
    def stub(x, mu, Sigma):
        raise NotImplementedError("Exercise 1")

    v = generative_models_and_likelihood.check_gaussian_log_likelihood(stub)
    assert not v and "not done yet" in v.message


def wrong(fn):
    """The failure message of a wrong answer (asserting that it fails)."""
    v = generative_models_and_likelihood.check_gaussian_log_likelihood(fn)
    assert not v
    return v.message


def loglik_from_parts(f):
    """A wrong answer assembled from the pieces of the log-density: f(constant, log-det, quadratic [N]) -> scalar."""
    return lambda x, mu, S: f(*loglik_parts(x, mu, S))


def loglik_not_inverted(x, mu, S):
    diff = x - mu
    c, ld, _ = loglik_parts(x, mu, S)
    return (-c - 0.5 * ld - 0.5 * (diff @ S * diff).sum(1)).mean()


# (wrong answer, fragment its message must hold): the usual mistakes first (sum, hard-coded 2D constant, missing 1/2)
LOGLIK_WRONG = {
    "sum, not mean": (lambda x, mu, S: loglik_right(x, mu, S) * len(x), "sum over the data points"),
    "constant hard-coded for 2D": (
        loglik_from_parts(lambda c, ld, q: (-math.log(2 * math.pi) - 0.5 * ld - 0.5 * q).mean()),
        "constant is wrong",
    ),
    "quadratic term without 1/2": (loglik_from_parts(lambda c, ld, q: (-c - 0.5 * ld - q).mean()), "quadratic term needs the factor 1/2"),
    "log det without 1/2": (loglik_from_parts(lambda c, ld, q: (-c - ld - 0.5 * q).mean()), "needs the factor 1/2"),
    "one value per point": (lambda x, mu, S: torch.distributions.MultivariateNormal(mu, S).log_prob(x), "one value per point"),
    "negative log-likelihood": (lambda x, mu, S: -loglik_right(x, mu, S), "sign is flipped"),
    "average density": (
        lambda x, mu, S: torch.distributions.MultivariateNormal(mu, S).log_prob(x).exp().mean(),
        "average density",
    ),
    "constant missing": (loglik_from_parts(lambda c, ld, q: (-0.5 * ld - 0.5 * q).mean()), "-(d_x/2) log(2 pi) is missing"),
    "log det missing": (loglik_from_parts(lambda c, ld, q: (-c - 0.5 * q).mean()), "log det(Sigma) term is missing"),
    "Sigma not inverted": (loglik_not_inverted, "uses Sigma where it needs its inverse"),
}


@pytest.mark.parametrize("name", list(LOGLIK_WRONG))
def test_loglik_known_mistakes_are_named(name):
    fn, fragment = LOGLIK_WRONG[name]
    message = wrong(fn)
    assert fragment in message
    assert_no_code(message)


def test_loglik_hard_coded_2d_names_the_dimension():
    assert "d_x = 3" in wrong(LOGLIK_WRONG["constant hard-coded for 2D"][0])


def test_loglik_bad_types_and_crashes_fail_cleanly():
    assert "should be a torch.Tensor" in wrong(lambda x, mu, S: "minus three")
    assert "single number" in wrong(lambda x, mu, S: torch.zeros(2, 2))
    assert "log(0)" in wrong(lambda x, mu, S: torch.tensor(float("nan")))
    assert "your code raised" in wrong(lambda x, mu, S: x @ torch.zeros(5, 5))
    assert "expected" in wrong(lambda x, mu, S: torch.tensor(-1.0))


# ---------------------------------------------------------------- Gaussian MLE


def mle_right(x):
    mu = x.mean(0)
    diff = x - mu
    return mu, diff.T @ diff / len(x)


def mle_wrong(fn):
    """The failure message of a wrong MLE (asserting that it fails)."""
    v = generative_models_and_likelihood.check_gaussian_mle(fn)
    assert not v
    return v.message


def test_mle_right_answers_pass():
    assert generative_models_and_likelihood.check_gaussian_mle(mle_right)
    assert generative_models_and_likelihood.check_gaussian_mle(lambda x: (x.mean(0), torch.cov(x.T, correction=0)))
    assert generative_models_and_likelihood.check_gaussian_mle(lambda x: [x.numpy().mean(0), np.cov(x.numpy().T, bias=True)])

    def in_place(x):  # modifying the input must not confuse the check
        mu = x.mean(0)
        x -= mu
        return mu, x.T @ x / len(x)

    assert generative_models_and_likelihood.check_gaussian_mle(in_place)


def test_mle_stub_fails():
    def stub(x):
        raise NotImplementedError("Exercise 2")

    v = generative_models_and_likelihood.check_gaussian_mle(stub)
    assert not v and "not done yet" in v.message


# (wrong answer, fragment): the usual mistakes first (divisor N - 1, no centring, only the diagonal)
MLE_WRONG = {
    "torch.cov (divisor N - 1)": (lambda x: (x.mean(0), torch.cov(x.T)), "N - 1"),
    "np.cov (divisor N - 1)": (lambda x: (x.mean(0), torch.as_tensor(np.cov(x.numpy().T))), "N - 1"),
    "not centred": (lambda x: (x.mean(0), x.T @ x / len(x)), "without subtracting the mean"),
    "only the variances": (lambda x: (x.mean(0), torch.diag(x.var(0, correction=0))), "only the variances"),
    "not centred, N - 1": (lambda x: (x.mean(0), x.T @ x / (len(x) - 1)), "forgets to center"),
    "sum of outer products": (lambda x: (x.mean(0), (x - x.mean(0)).T @ (x - x.mean(0))), "sum of the outer products"),
    "standard deviations": (lambda x: (x.mean(0), torch.diag(x.std(0, correction=0))), "standard deviations"),
    "product the wrong way round": (lambda x: (x.mean(0), (x - x.mean(0)) @ (x - x.mean(0)).T / len(x)), "wrong way round"),
    "mean over the wrong dimension": (lambda x: (x.mean(1), mle_right(x)[1]), "one per data point"),
    "sum as mean": (lambda x: (x.sum(0), mle_right(x)[1]), "sum of the points"),
    "median as mean": (lambda x: (x.median(0).values, mle_right(x)[1]), "not the sample mean"),
    "mean kept as a row": (lambda x: (x.mean(0, keepdim=True), mle_right(x)[1]), "shape [1,"),
}


@pytest.mark.parametrize("name", list(MLE_WRONG))
def test_mle_known_mistakes_are_named(name):
    fn, fragment = MLE_WRONG[name]
    message = mle_wrong(fn)
    assert fragment in message
    assert_no_code(message)


def test_mle_bad_returns_fail_cleanly():
    assert "pair (mu_hat, Sigma_hat)" in mle_wrong(lambda x: x.mean(0))
    assert "pair (mu_hat, Sigma_hat)" in mle_wrong(lambda x: (x.mean(0),))
    assert "should be a torch.Tensor" in mle_wrong(lambda x: (x.mean(0), "cov"))
    skewed = lambda x: (x.mean(0), mle_right(x)[1] + torch.triu(torch.ones(x.shape[1], x.shape[1]), 1))
    assert "not symmetric" in mle_wrong(skewed)
    assert "largest difference" in mle_wrong(lambda x: (x.mean(0), 2 * mle_right(x)[1]))
    assert "your code raised" in mle_wrong(lambda x: (x.mean(0), x.T @ x.T))


# ---------------------------------------------------------------- choosing K by held-out likelihood

MEANS = torch.tensor([[-2.1, -0.4], [0.7, 2.2], [2.3, -1.6]], dtype=torch.float64)
COVS = torch.tensor([[[0.32, 0.10], [0.10, 0.42]], [[0.30, -0.12], [-0.12, 0.34]], [[0.44, 0.05], [0.05, 0.24]]], dtype=torch.float64)
WEIGHTS = torch.tensor([0.34, 0.41, 0.25], dtype=torch.float64)


def three_clusters(n, seed):
    """n points of the lecture's three-Gaussian p_data, drawn with their own generator."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.multinomial(WEIGHTS, n, replacement=True, generator=gen)
    eps = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    return MEANS[c] + (eps[:, None, :] @ torch.linalg.cholesky(COVS[c]).transpose(1, 2))[:, 0]


X_SEL, X_SEL_TEST = three_clusters(3200, 10), three_clusters(3200, 11)


def fit_mixture(x, K, n_steps, lr=0.05):
    """The lecture's fit: farthest-point means, identity covariances, Adam on the average log-likelihood."""
    idx = [0]
    for _ in range(K - 1):
        idx.append(int(torch.cdist(x, x[idx]).min(dim=1).values.argmax()))
    means = x[idx].clone().requires_grad_(True)
    logits = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    raw_L = torch.zeros(K, 2, 2, dtype=torch.float64, requires_grad=True)

    def mixture():
        L = torch.tril(raw_L, -1) + torch.diag_embed(torch.diagonal(raw_L, dim1=-2, dim2=-1).exp())
        comps = torch.distributions.MultivariateNormal(means, scale_tril=L)
        return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logits), comps)

    opt = torch.optim.Adam([means, logits, raw_L], lr=lr)
    for _ in range(n_steps):
        loss = -mixture().log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return mixture()


def selection_right(x, x_test, n_steps=200):
    out = {}
    for K in (1, 2, 3, 4, 6):
        mix = fit_mixture(x, K, n_steps)
        out[K] = (mix.log_prob(x).mean().item(), mix.log_prob(x_test).mean().item())
    return out


@pytest.fixture(scope="module")
def right_outcome():
    return selection_right(X_SEL, X_SEL_TEST)


def selection_verdict(outcome):
    """The verdict on a fixed outcome, as if a function had returned it."""
    return generative_models_and_likelihood.check_model_selection(lambda x, x_test: outcome, X_SEL, X_SEL_TEST)


def selection_wrong(outcome):
    """The failure message of a wrong outcome (asserting that it fails)."""
    v = selection_verdict(outcome)
    assert not v
    return v.message


def test_selection_right_outcomes_pass(right_outcome):
    v = selection_verdict(right_outcome)  # the lecture's fits, on a sample of the same p_data
    assert v and "picks K = 3" in v.message
    as_tensors = {K: (torch.tensor(a), torch.tensor(b)) for K, (a, b) in right_outcome.items()}
    assert selection_verdict(as_tensors)
    as_lists = {K: [np.float64(a), b] for K, (a, b) in right_outcome.items()}
    assert selection_verdict(as_lists)
    # K = 4 a hair above K = 3 on the held-out points is noise: K = 3 is still among the best
    tied = dict(right_outcome)
    tied[4] = (tied[4][0], tied[3][1] + 0.003)
    v = selection_verdict(tied)
    assert v and "within 0.01 of the best (K = 4)" in v.message


def test_selection_stub_fails():
    def stub(x, x_test):
        raise NotImplementedError("Exercise 3")

    v = generative_models_and_likelihood.check_model_selection(stub, X_SEL, X_SEL_TEST)
    assert not v and "not done yet" in v.message


def with_entry(outcome, K, pair):
    """The outcome with the entry of K replaced."""
    changed = dict(outcome)
    changed[K] = pair
    return changed


# (outcome made wrong from the right one, fragment): the usual mistakes first (train and held-out swapped, held-out
# points never used, sums instead of averages)
SELECTION_WRONG = {
    "train and held-out swapped": (lambda r: {K: (b, a) for K, (a, b) in r.items()}, "swapped"),
    "held-out never used": (lambda r: {K: (a, a) for K, (a, b) in r.items()}, "equal the training values"),
    "sums over the points": (lambda r: {K: (a * len(X_SEL), b * len(X_SEL_TEST)) for K, (a, b) in r.items()}, "sums over the points"),
    "negative log-likelihoods": (lambda r: {K: (-a, -b) for K, (a, b) in r.items()}, "signs are flipped"),
    "K = 3 stuck on two clusters": (lambda r: with_entry(r, 3, r[2]), "K = 3 fit did not converge or is stuck"),
    "training curve falls": (lambda r: with_entry(r, 6, (r[6][0] - 0.05, r[6][1] - 0.05)), "K = 6 fit did not converge"),
    "held-out curve keeps rising": (lambda r: with_entry(r, 6, (r[6][0] + 0.1, r[3][1] + 0.05)), "keeps rising"),
    "pairs under the wrong K": (lambda r: with_entry(r, 2, r[3]), "peaks at K = 2"),
}


@pytest.mark.parametrize("name", list(SELECTION_WRONG))
def test_selection_known_mistakes_are_named(name, right_outcome):
    make, fragment = SELECTION_WRONG[name]
    message = selection_wrong(make(right_outcome))
    assert fragment in message
    assert_no_code(message)


def test_selection_fits_stopped_early_are_named():
    # fits that stopped after 30 steps: every curve keeps rising, and K = 1 is far from its closed form
    assert "K = 1 fit did not converge" in selection_wrong(selection_right(X_SEL, X_SEL_TEST, n_steps=30))


def test_selection_bad_containers_fail_cleanly(right_outcome):
    assert "should return a dict" in selection_wrong(list(right_outcome.values()))
    assert "one entry for each K" in selection_wrong({K: v for K, v in right_outcome.items() if K != 6})
    assert "one entry for each K" in selection_wrong({K - 1: v for K, v in right_outcome.items()})
    assert "keys of your dict" in selection_wrong({f"K={K}": v for K, v in right_outcome.items()})
    assert "pair (train_ll, test_ll)" in selection_wrong({K: b for K, (a, b) in right_outcome.items()})
    assert "pair (train_ll, test_ll)" in selection_wrong({K: (a, b, b) for K, (a, b) in right_outcome.items()})
    per_point = {K: (torch.full((3200,), a), b) for K, (a, b) in right_outcome.items()}
    assert "one per point" in selection_wrong(per_point)
    assert "single number" in selection_wrong({K: (torch.tensor([a, a]), b) for K, (a, b) in right_outcome.items()})
    assert "should be a torch.Tensor" in selection_wrong({K: ("high", b) for K, (a, b) in right_outcome.items()})
    assert "NaN" in selection_wrong({K: (a, float("nan")) for K, (a, b) in right_outcome.items()})
    assert "your code raised" in generative_models_and_likelihood.check_model_selection(lambda x, xt: 1 / 0, X_SEL, X_SEL_TEST).message


# ---------------------------------------------------------------- inverse-CDF sampling


def sampler_right(u, grid, density):
    cdf = torch.cumsum(density, 0)
    cdf = cdf / cdf[-1]
    return grid[torch.searchsorted(cdf, u).clamp(max=len(grid) - 1)]


def sampler_wrong(fn):
    """The failure message of a wrong sampler (asserting that it fails)."""
    v = generative_models_and_likelihood.check_inverse_cdf_sampler(fn)
    assert not v
    return v.message


def test_sampler_right_answers_pass():
    assert generative_models_and_likelihood.check_inverse_cdf_sampler(sampler_right)

    def with_numpy(u, grid, density):
        cdf = np.cumsum(density.numpy())
        return np.interp(u.numpy(), cdf / cdf[-1], grid.numpy())

    assert generative_models_and_likelihood.check_inverse_cdf_sampler(with_numpy)

    def trapezoid(u, grid, density):
        steps = 0.5 * (density[1:] + density[:-1]) * grid.diff()
        cdf = torch.cat([torch.zeros(1, dtype=density.dtype), steps.cumsum(0)])
        return torch.as_tensor(np.interp(u, cdf / cdf[-1], grid))

    assert generative_models_and_likelihood.check_inverse_cdf_sampler(trapezoid)


def test_sampler_stub_fails():
    def stub(u, grid, density):
        raise NotImplementedError("Exercise 4")

    v = generative_models_and_likelihood.check_inverse_cdf_sampler(stub)
    assert not v and "not done yet" in v.message


def sampler_swapped(u, grid, density):
    cdf = np.cumsum(density.numpy())
    return np.interp(u.numpy(), grid.numpy(), cdf / cdf[-1])


def sampler_unnormalised(u, grid, density):
    dx = (grid[1] - grid[0]).item()
    return np.interp(u.numpy(), np.cumsum(density.numpy()) * dx, grid.numpy())


# (wrong sampler, fragment): the usual mistakes first (interpolation swapped, CDF not normalised, density ignored)
SAMPLER_WRONG = {
    "interpolation the wrong way round": (sampler_swapped, "returns CDF values"),
    "CDF times the grid step, not normalised": (sampler_unnormalised, "not normalised"),
    "density ignored": (lambda u, g, d: g[0] + u * (g[-1] - g[0]), "uniformly over the grid"),
    "raw cumulative sum": (lambda u, g, d: np.interp(u.numpy(), np.cumsum(d.numpy()), g.numpy()), "not normalised"),
    "decreasing in u": (lambda u, g, d: -sampler_right(u, g, d), "must grow with u"),
    "shifted by half a unit": (lambda u, g, d: sampler_right(u, g, d) + 0.5, "three grid steps"),
}


@pytest.mark.parametrize("name", list(SAMPLER_WRONG))
def test_sampler_known_mistakes_are_named(name):
    fn, fragment = SAMPLER_WRONG[name]
    message = sampler_wrong(fn)
    assert fragment in message
    assert_no_code(message)


def test_sampler_bad_returns_fail_cleanly():
    assert "one x per u" in sampler_wrong(lambda u, g, d: sampler_right(u, g, d)[:10])
    assert "NaN" in sampler_wrong(lambda u, g, d: sampler_right(u, g, d) / 0 * 0)
    assert "should be a torch.Tensor" in sampler_wrong(lambda u, g, d: None)
    assert "your code raised" in sampler_wrong(lambda u, g, d: g[len(g) + 5])


@pytest.mark.parametrize(
    "check",
    [
        generative_models_and_likelihood.check_gaussian_log_likelihood,
        generative_models_and_likelihood.check_gaussian_mle,
        generative_models_and_likelihood.check_inverse_cdf_sampler,
        lambda fn: generative_models_and_likelihood.check_model_selection(fn, X_SEL, X_SEL_TEST),
    ],
)
def test_every_check_prints_one_line(check, capsys):
    check(lambda *args: 1 / 0)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("[FAIL] ")
