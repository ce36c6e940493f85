"""Tests of commonfactors.plots: what is drawn (artists, positions, labels), not pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle, Wedge  # noqa: E402

from commonfactors import plots  # noqa: E402
from commonfactors.errors import ColumnError, CommonFactorsError, ConfigError  # noqa: E402
from commonfactors.plots import (  # noqa: E402
    FACTOR_COLORS,
    estimand_label,
    factor_color,
    factor_label,
    plot_bootstrap,
    plot_caterpillar,
    plot_pie_vs_bar,
    plot_precision,
    plot_sensitivity,
    plot_shares,
    plot_trajectories,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid):
    """Every artist of ``ax`` whose gid is ``gid``."""
    artists = list(ax.lines) + list(ax.patches) + list(ax.collections)
    return [a for a in artists if a.get_gid() == gid]


def one(ax, gid):
    found = by_gid(ax, gid)
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


def ticklabels(ax, axis="y"):
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in labels]


@pytest.fixture
def shares_table():
    return pd.DataFrame({
        "factor": ["relationship", "technique", "extra_therapeutic", "relationship"],
        "estimand": ["share_total_variance"] * 3 + ["share_explained_variance"],
        "estimate": [0.12, 0.08, 0.30, 0.20],
        "ci_low": [0.07, np.nan, 0.20, 0.1],
        "ci_high": [0.18, np.nan, 0.40, 0.3],
    })


@pytest.fixture
def claims_table():
    return pd.DataFrame({
        "claim": ["seed_relationship_low", "seed_relationship_reserved", "nl_client", "lambert"],
        "factor": ["relationship", "relationship", "client", "technique"],
        "estimand": ["share_total_variance", "share_total_variance", "share_total_variance",
                     "share_mean_improvement"],
        "claimed_low": [0.12, 0.40, 0.30, 0.15],
        "claimed_high": [0.12, 0.50, 0.30, 0.15],
    })


@pytest.fixture
def sessions():
    rng = np.random.default_rng(3)
    n_clients, n_sessions = 12, 5
    client = np.repeat(np.arange(n_clients), n_sessions)
    session = np.tile(np.arange(n_sessions), n_clients)
    arm = np.where(client % 2 == 0, "control", "active")
    outcome = 20 - session * np.where(arm == "active", 1.5, 0.5) + rng.normal(0, 1, client.size)
    return pd.DataFrame({"client": client, "session": session, "outcome": outcome, "arm": arm})


# ------------------------------------------------------------------------------------------
# palette and labels
# ------------------------------------------------------------------------------------------
def test_palette_covers_every_factor_with_distinct_colours():
    expected = {"relationship", "technique", "expectancy", "extra_therapeutic", "therapist",
                "client", "residual", "nonspecific"}
    assert set(FACTOR_COLORS) == expected
    assert len({c.lower() for c in FACTOR_COLORS.values()}) == len(expected)
    assert factor_color("relationship") == FACTOR_COLORS["relationship"]


def test_unknown_factor_colour_is_stable_and_not_a_builtin_colour():
    assert factor_color("empathy") == factor_color("empathy")
    assert factor_color("empathy") not in FACTOR_COLORS.values()


def test_labels_are_human_readable():
    assert factor_label("relationship") == "Relationship"
    assert factor_label("extra_therapeutic") == "Extra-therapeutic"
    assert factor_label("goal_consensus") == "Goal consensus"
    assert estimand_label("share_total_variance") == "share of total outcome variance"
    assert estimand_label("share_mean_improvement") == "share of mean improvement"


# ------------------------------------------------------------------------------------------
# plot_shares
# ------------------------------------------------------------------------------------------
def test_plot_shares_draws_points_and_intervals_for_one_estimand(shares_table):
    ax = plot_shares(shares_table)
    assert isinstance(ax, Axes)
    assert ticklabels(ax) == ["Relationship", "Technique", "Extra-therapeutic"]
    assert ax.get_xlabel() == "share of total outcome variance"
    rel = one(ax, "estimate:relationship")
    assert rel.get_xdata().tolist() == [0.12] and rel.get_ydata().tolist() == [0.0]
    assert one(ax, "estimate:extra_therapeutic").get_ydata().tolist() == [2.0]
    ci = one(ax, "ci:relationship")
    assert ci.get_xdata().tolist() == [0.07, 0.18] and ci.get_ydata().tolist() == [0.0, 0.0]
    assert to_hex(rel.get_color()) == FACTOR_COLORS["relationship"].lower()
    # NaN interval: the point only
    assert one(ax, "estimate:technique").get_xdata().tolist() == [0.08]
    assert by_gid(ax, "ci:technique") == []
    # the other estimand's relationship row (0.20) is not drawn
    points = [x for ln in ax.lines if str(ln.get_gid()).startswith("estimate:")
              for x in ln.get_xdata()]
    assert sorted(points) == [0.08, 0.12, 0.30]
    assert ax.yaxis_inverted()


def test_plot_shares_other_estimand_changes_label(shares_table):
    ax = plot_shares(shares_table, estimand="share_explained_variance")
    assert ax.get_xlabel() == "share of explained variance"
    assert ticklabels(ax) == ["Relationship"]
    assert one(ax, "estimate:relationship").get_xdata().tolist() == [0.20]


def test_plot_shares_draws_claims_beside_estimates(shares_table, claims_table):
    ax = plot_shares(shares_table, claims=claims_table)
    point = one(ax, "claim:seed_relationship_low")
    assert point.get_xdata().tolist() == [0.12]
    assert 0.0 < point.get_ydata()[0] < 1.0  # just below the relationship row
    span = one(ax, "claim:seed_relationship_reserved")
    assert isinstance(span, Rectangle)
    assert span.get_x() == pytest.approx(0.40) and span.get_width() == pytest.approx(0.10)
    texts = [t.get_text() for t in ax.texts]
    assert "seed_relationship_low" in texts and "seed_relationship_reserved" in texts
    # a claim on another estimand is not drawn
    assert by_gid(ax, "claim:lambert") == [] and "lambert" not in texts
    # a claimed factor without an estimate gets its own row
    assert ticklabels(ax)[-1] == "Client"
    assert 3.0 < one(ax, "claim:nl_client").get_ydata()[0] < 4.0
    # the claim ids fit inside the axis
    assert ax.get_xlim()[1] > 0.5


def test_plot_shares_open_ended_claim_is_labelled(shares_table):
    claims = pd.DataFrame({"claim": ["seed_relationship_high"], "factor": ["relationship"],
                           "claimed_low": [np.nan], "claimed_high": [0.8]})
    ax = plot_shares(shares_table, claims=claims)
    assert one(ax, "claim:seed_relationship_high").get_xdata().tolist() == [0.8]
    assert [t.get_text() for t in ax.texts] == ["\u2264 seed_relationship_high"]


def test_plot_shares_uses_given_ax(shares_table):
    _, ax = plt.subplots()
    assert plot_shares(shares_table, ax=ax) is ax
    assert len(plt.get_fignums()) == 1


def test_plot_shares_errors(shares_table, claims_table):
    with pytest.raises(ColumnError, match="'ci_low'"):
        plot_shares(shares_table.drop(columns="ci_low"))
    with pytest.raises(ColumnError, match="estimand 'part_r2'.*share_total_variance"):
        plot_shares(shares_table, estimand="part_r2")
    with pytest.raises(ColumnError, match="`claims`.*'claimed_high'"):
        plot_shares(shares_table, claims=claims_table.drop(columns="claimed_high"))
    with pytest.raises(ColumnError, match="'estimate' must be numeric"):
        plot_shares(shares_table.assign(estimate=["a", "b", "c", "d"]))
    with pytest.raises(CommonFactorsError, match="`ax`: expecting a matplotlib Axes"):
        plot_shares(shares_table, ax="left")


# ------------------------------------------------------------------------------------------
# plot_pie_vs_bar
# ------------------------------------------------------------------------------------------
@pytest.fixture
def mean_shares():
    return pd.DataFrame({"factor": ["extra_therapeutic", "relationship", "expectancy",
                                    "technique"],
                         "estimate": [0.40, 0.30, 0.15, 0.15]})


def test_pie_vs_bar_draws_pie_and_bars(mean_shares, shares_table):
    ax_mean, ax_var = plot_pie_vs_bar(mean_shares, shares_table)
    assert isinstance(ax_mean, Axes) and isinstance(ax_var, Axes)
    wedges = [p for p in ax_mean.patches if isinstance(p, Wedge)]
    assert len(wedges) == 4
    sweep = [(w.theta2 - w.theta1) / 360.0 for w in wedges]
    assert sweep == pytest.approx([0.40, 0.30, 0.15, 0.15])
    assert one(ax_mean, "mean:relationship").get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(FACTOR_COLORS["relationship"]))
    assert ax_mean.get_title() == "Share of mean improvement"
    assert ax_var.get_title() == "Share of total outcome variance"
    heights = [one(ax_var, f"variance:{f}").get_height()
               for f in ("relationship", "technique", "extra_therapeutic")]
    assert heights == pytest.approx([0.12, 0.08, 0.30])
    assert ticklabels(ax_var, "x") == ["Relationship", "Technique", "Extra-therapeutic"]
    assert one(ax_var, "ci:relationship").get_ydata().tolist() == [0.07, 0.18]


def test_pie_vs_bar_negative_share_gives_bars(shares_table):
    mean = pd.DataFrame({"factor": ["relationship", "technique", "extra_therapeutic"],
                         "estimate": [0.7, -0.1, 0.4]})
    ax_mean, _ = plot_pie_vs_bar(mean, shares_table)
    assert not any(isinstance(p, Wedge) for p in ax_mean.patches)
    assert one(ax_mean, "mean:technique").get_height() == pytest.approx(-0.1)
    assert "negative" in ax_mean.get_title()
    assert ticklabels(ax_mean, "x") == ["Relationship", "Technique", "Extra-therapeutic"]


def test_pie_vs_bar_picks_variance_estimand_and_uses_given_axes(mean_shares, shares_table):
    _, pair = plt.subplots(1, 2)
    out = plot_pie_vs_bar(mean_shares, shares_table, axes=pair,
                          variance_estimand="share_explained_variance")
    assert out[0] is pair[0] and out[1] is pair[1]
    assert out[1].get_title() == "Share of explained variance"
    assert one(out[1], "variance:relationship").get_height() == pytest.approx(0.20)


def test_pie_vs_bar_reports_shares_not_summing_to_one(mean_shares, shares_table):
    ax_mean, _ = plot_pie_vs_bar(mean_shares.assign(estimate=[0.4, 0.3, 0.1, 0.1]), shares_table)
    assert "sum to 90%" in ax_mean.get_title()


def test_pie_vs_bar_errors(mean_shares, shares_table):
    with pytest.raises(ColumnError, match="`mean_shares`.*'estimate'"):
        plot_pie_vs_bar(mean_shares.drop(columns="estimate"), shares_table)
    with pytest.raises(ColumnError, match="`variance_shares`.*'factor'"):
        plot_pie_vs_bar(mean_shares, shares_table.drop(columns="factor"))
    _, ax = plt.subplots()
    with pytest.raises(CommonFactorsError, match="`axes`: expecting a pair"):
        plot_pie_vs_bar(mean_shares, shares_table, axes=ax)


# ------------------------------------------------------------------------------------------
# plot_trajectories
# ------------------------------------------------------------------------------------------
def client_lines(ax):
    return [ln for ln in ax.lines if str(ln.get_gid()).startswith("client:")]


def test_trajectories_sample_and_mean(sessions):
    before = sessions.copy()
    ax = plot_trajectories(sessions, n_clients=5, seed=1)
    lines = client_lines(ax)
    assert len(lines) == 5
    mean = one(ax, "mean")
    expected = sessions.groupby("session")["outcome"].mean()
    assert mean.get_xdata().tolist() == expected.index.tolist()
    assert mean.get_ydata() == pytest.approx(expected.to_numpy())
    # each client line is that client's own data in session order
    cid = int(str(lines[0].get_gid()).split(":")[1])
    own = sessions[sessions["client"] == cid].sort_values("session")
    assert lines[0].get_ydata() == pytest.approx(own["outcome"].to_numpy())
    assert ax.get_xlabel() == "session" and ax.get_ylabel() == "outcome"
    pd.testing.assert_frame_equal(sessions, before)


def test_trajectories_seed_controls_the_sample(sessions):
    def ids(seed):
        ax = plot_trajectories(sessions, n_clients=4, seed=seed)
        return sorted(ln.get_gid() for ln in client_lines(ax))

    assert ids(7) == ids(7)
    assert any(ids(7) != ids(s) for s in range(8, 14))
    assert len(client_lines(plot_trajectories(sessions, n_clients=100))) == 12


def test_trajectories_hue_gives_one_mean_per_level(sessions):
    _, ax = plt.subplots()
    assert plot_trajectories(sessions, hue="arm", n_clients=4, ax=ax) is ax
    active = one(ax, "mean:active")
    expected = sessions[sessions["arm"] == "active"].groupby("session")["outcome"].mean()
    assert active.get_ydata() == pytest.approx(expected.to_numpy())
    assert by_gid(ax, "mean:control") and not by_gid(ax, "mean")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean, active",
                                                                  "mean, control"]


def test_trajectories_errors(sessions):
    with pytest.raises(ColumnError, match="'score'"):
        plot_trajectories(sessions, outcome="score")
    with pytest.raises(ColumnError, match="'therapy'"):
        plot_trajectories(sessions, hue="therapy")
    with pytest.raises(ConfigError, match="`n_clients`"):
        plot_trajectories(sessions, n_clients=-1)


# ------------------------------------------------------------------------------------------
# plot_caterpillar
# ------------------------------------------------------------------------------------------
@pytest.fixture
def ranef():
    return pd.DataFrame({"therapist": ["t1", "t2", "t3", "t4"],
                         "estimate": [0.5, -0.3, 0.05, -0.01], "se": [0.1, 0.1, 0.2, np.nan]})


def test_caterpillar_sorted_with_intervals(ranef):
    ax = plot_caterpillar(ranef)
    points = one(ax, "estimates")
    assert points.get_xdata().tolist() == [0, 1, 2, 3]
    assert points.get_ydata().tolist() == [-0.3, -0.01, 0.05, 0.5]
    assert ticklabels(ax, "x") == ["t2", "t4", "t3", "t1"]
    segments = one(ax, "intervals").get_segments()
    assert len(segments) == 3  # t4 has no se: point only
    lows_highs = sorted((s[0][0], s[0][1], s[1][1]) for s in segments)
    assert lows_highs[0] == pytest.approx((0.0, -0.3 - 1.96 * 0.1, -0.3 + 1.96 * 0.1), abs=1e-4)
    assert lows_highs[2] == pytest.approx((3.0, 0.5 - 1.96 * 0.1, 0.5 + 1.96 * 0.1), abs=1e-4)
    assert ax.get_title() == "2 of 4 intervals exclude 0"
    assert ax.get_xlabel() == "Therapist, ranked by predicted effect"


def test_caterpillar_index_ids_custom_columns_and_ax(ranef):
    frame = ranef.set_index("therapist").rename(columns={"estimate": "b", "se": "s"})
    _, ax = plt.subplots()
    assert plot_caterpillar(frame, estimate="b", se="s", ax=ax) is ax
    assert ticklabels(ax, "x") == ["t2", "t4", "t3", "t1"]


def test_caterpillar_hides_ids_for_many_units():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"estimate": rng.normal(size=60), "se": 0.1})
    ax = plot_caterpillar(frame)
    assert len(one(ax, "estimates").get_xdata()) == 60
    assert ticklabels(ax, "x") == []


def test_caterpillar_errors(ranef):
    with pytest.raises(ColumnError, match="'se'"):
        plot_caterpillar(ranef.drop(columns="se"))
    with pytest.raises(ColumnError, match="must be >= 0"):
        plot_caterpillar(ranef.assign(se=-0.1))


# ------------------------------------------------------------------------------------------
# plot_bootstrap
# ------------------------------------------------------------------------------------------
def test_bootstrap_percentile_lines_and_density():
    reps = np.random.default_rng(1).normal(0.12, 0.03, size=400)
    ax = plot_bootstrap(reps, estimate=0.125)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert one(ax, "ci_low").get_xdata()[0] == pytest.approx(lo)
    assert one(ax, "ci_high").get_xdata()[0] == pytest.approx(hi)
    assert one(ax, "estimate").get_xdata()[0] == pytest.approx(0.125)
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert sum(b.get_height() * b.get_width() for b in bars) == pytest.approx(1.0)
    kde = one(ax, "kde")
    assert np.trapezoid(kde.get_ydata(), kde.get_xdata()) == pytest.approx(1.0, abs=0.02)
    assert ax.get_title() == "400 bootstrap replicates"
    assert ax.get_xlabel() == "replicate value"


def test_bootstrap_from_table_with_failures_and_level():
    values = np.r_[np.linspace(0.0, 1.0, 101), [np.nan, np.nan]]
    table = pd.DataFrame({"replicate": range(103), "factor": "relationship",
                          "estimand": "share_total_variance", "estimate": values})
    _, ax = plt.subplots()
    assert plot_bootstrap(table, level=0.9, ax=ax) is ax
    assert one(ax, "ci_low").get_xdata()[0] == pytest.approx(0.05)
    assert one(ax, "ci_high").get_xdata()[0] == pytest.approx(0.95)
    assert by_gid(ax, "estimate") == []
    assert ax.get_title() == "101 bootstrap replicates, 2 failed and left out"
    assert ax.get_xlabel() == "share of total outcome variance"


def test_bootstrap_errors():
    table = pd.DataFrame({"factor": ["relationship", "technique"],
                          "estimand": "share_total_variance", "estimate": [0.1, 0.2]})
    with pytest.raises(ColumnError, match="one estimand.*Filter"):
        plot_bootstrap(table)
    with pytest.raises(ColumnError, match="'estimate'"):
        plot_bootstrap(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match="`level`"):
        plot_bootstrap([0.1, 0.2, 0.3], level=95)
    with pytest.raises(CommonFactorsError, match="at least 2 finite"):
        plot_bootstrap([0.1, np.nan])


# ------------------------------------------------------------------------------------------
# plot_sensitivity and plot_precision
# ------------------------------------------------------------------------------------------
def test_sensitivity_lines_bands_and_claim():
    table = pd.DataFrame({"reference": [3.0, 1.0, 2.0] * 2,
                          "share": [0.2, 0.85, 0.5, 0.05, 0.1, 0.08],
                          "factor": ["relationship"] * 3 + ["technique"] * 3})
    table["ci_low"], table["ci_high"] = table["share"] - 0.05, table["share"] + 0.05
    ax = plot_sensitivity(table, claimed=0.8)
    rel = one(ax, "share:relationship")
    assert rel.get_xdata().tolist() == [1.0, 2.0, 3.0]
    assert rel.get_ydata() == pytest.approx([0.85, 0.5, 0.2])
    assert one(ax, "share:technique").get_ydata() == pytest.approx([0.1, 0.08, 0.05])
    assert len(by_gid(ax, "band:relationship")) == 1
    assert one(ax, "claimed").get_ydata()[0] == pytest.approx(0.8)
    assert ax.get_ylabel() == "share of mean improvement"
    assert ax.get_xlabel() == "reference level"


def test_sensitivity_categorical_reference_and_ax():
    table = pd.DataFrame({"level": ["control arm", "poor alliance", "mean alliance"],
                          "share": [0.8, 0.5, 0.1]})
    _, ax = plt.subplots()
    assert plot_sensitivity(table, x="level", ax=ax) is ax
    assert one(ax, "share").get_xdata().tolist() == [0.0, 1.0, 2.0]
    assert ticklabels(ax, "x") == ["control arm", "poor alliance", "mean alliance"]
    with pytest.raises(ColumnError, match="'reference'"):
        plot_sensitivity(table)


def test_precision_averages_replicates_per_design():
    table = pd.DataFrame({"n_therapists": [10, 10, 40, 40, 10, 40],
                          "ci_width": [0.3, 0.2, 0.1, 0.12, 0.2, 0.06],
                          "clients_per_therapist": [5, 5, 5, 5, 20, 20]})
    ax = plot_precision(table, hue="clients_per_therapist")
    five = one(ax, "precision:5")
    assert five.get_xdata().tolist() == [10.0, 40.0]
    assert five.get_ydata() == pytest.approx([0.25, 0.11])
    assert one(ax, "precision:20").get_ydata() == pytest.approx([0.2, 0.06])
    assert ax.get_xlabel() == "number of therapists"
    assert ax.get_legend().get_title().get_text() == "clients per therapist"
    _, ax2 = plt.subplots()
    assert plot_precision(table, ax=ax2) is ax2
    assert one(ax2, "precision").get_ydata() == pytest.approx([0.7 / 3, 0.28 / 3])
    with pytest.raises(ColumnError, match="'ci_width'"):
        plot_precision(table.drop(columns="ci_width"))


def test_no_global_matplotlib_state_changes(shares_table, mean_shares, sessions, ranef):
    before = dict(matplotlib.rcParams)
    plot_shares(shares_table)
    plot_pie_vs_bar(mean_shares, shares_table)
    plot_trajectories(sessions)
    plot_caterpillar(ranef)
    plot_bootstrap([0.1, 0.2, 0.3])
    plot_sensitivity(pd.DataFrame({"reference": [1, 2], "share": [0.5, 0.2]}))
    plot_precision(pd.DataFrame({"n_therapists": [10, 20], "ci_width": [0.2, 0.1]}))
    assert dict(matplotlib.rcParams) == before
    assert set(plots.__all__) >= {"FACTOR_COLORS", "plot_shares", "plot_precision"}


def test_plot_shares_rows_make_room_for_many_claims(shares_table):
    claims = pd.DataFrame({"claim": ["a", "b", "c", "d"], "factor": "relationship",
                           "claimed_low": [0.1, 0.2, 0.3, 0.4],
                           "claimed_high": [0.1, 0.2, 0.3, 0.4]})
    ax = plot_shares(shares_table, claims=claims)
    next_row = ax.get_yticks()[1]
    ys = [one(ax, f"claim:{c}").get_ydata()[0] for c in "abcd"]
    assert ys == sorted(ys) and 0.0 < ys[0] and next_row - ys[-1] > 0.5


def test_plot_shares_one_row_per_factor_and_claims_drawn_once(shares_table, claims_table):
    two_views = pd.concat([shares_table.assign(view="growth"), shares_table.assign(view="change")])
    with pytest.raises(ColumnError, match="one row per factor.*'relationship'.*'view'"):
        plot_shares(two_views)
    repeated = pd.concat([claims_table, claims_table])
    ax = plot_shares(shares_table, claims=repeated)
    assert len(by_gid(ax, "claim:seed_relationship_low")) == 1
    assert len(ax.texts) == 3
