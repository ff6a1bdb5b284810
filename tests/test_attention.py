"""Attention: read-out (shapes, masking of padding, errors, the tidy table), how spread out
it is, what the page shows of long texts, the heatmaps, and a trained model that uses it."""

import numpy as np
import pytest

from seqlab import attention_charts
from seqlab.attention import (
    AttentionProbe, attention_scores, attention_table, has_attention, largest_peak, nearly_uniform,
)
from seqlab.config import ModelConfig
from seqlab.data import synthetic
from seqlab.inference import AttentionMap
from seqlab.models import build_model, load_model
from seqlab.views.attention import MAX_SHOWN_TOKENS, MOST_ATTENDED, WINDOW, attention_view
from tests.apptest_support import ATTENTION_PAGE, chart_frames, check_page, open_page, texts_of

VOCABULARY_SIZE = 50
SEQUENCE_LENGTH = 12
NUM_LAYERS = 2
NUM_HEADS = 2
REAL_LENGTHS = (3, 7, 12)
SIZES = dict(vocabulary_size=VOCABULARY_SIZE, sequence_length=SEQUENCE_LENGTH, num_classes=2)


def tiny(arch: str = "transformer", **fields) -> ModelConfig:
    return ModelConfig(
        arch=arch, embedding_dim=8, units=8, num_layers=NUM_LAYERS, num_heads=NUM_HEADS,
        key_dim=4, ff_dim=16, dropout_rate=0.1, **fields,
    )


@pytest.fixture(scope="module")
def transformer():
    return build_model(tiny(), seed=0, **SIZES)


@pytest.fixture(scope="module")
def token_ids():
    """(3, T) ids with 3, 7 and 12 real tokens, post-padded."""
    rng = np.random.default_rng(0)
    ids = np.zeros((len(REAL_LENGTHS), SEQUENCE_LENGTH), dtype=np.int32)
    for row, length in enumerate(REAL_LENGTHS):
        ids[row, :length] = rng.integers(1, VOCABULARY_SIZE, size=length)
    return ids


@pytest.fixture(scope="module")
def scores(transformer, token_ids):
    return attention_scores(transformer, token_ids)


def test_scores_have_one_map_per_layer_text_and_head(scores):
    assert scores.shape == (
        NUM_LAYERS, len(REAL_LENGTHS), NUM_HEADS, SEQUENCE_LENGTH, SEQUENCE_LENGTH
    )


def test_rows_of_real_tokens_sum_to_one(scores):
    for row, length in enumerate(REAL_LENGTHS):
        real_rows = scores[:, row, :, :length, :]  # (layers, heads, real queries, T)
        np.testing.assert_allclose(real_rows.sum(axis=-1), 1.0, atol=1e-5)


def test_padding_gets_no_weight(scores):
    for row, length in enumerate(REAL_LENGTHS):
        assert np.all(scores[:, row, :, :, length:] == 0.0)  # padding keys
        assert np.all(scores[:, row, :, length:, :] == 0.0)  # padding queries


def test_scores_survive_save_and_load(tmp_path, transformer, token_ids, scores):
    path = tmp_path / "model.keras"
    transformer.save(path)
    np.testing.assert_allclose(attention_scores(load_model(path), token_ids), scores, atol=1e-6)


def test_a_probe_built_once_reads_each_text_as_attention_scores_does(transformer, token_ids, scores):
    probe = AttentionProbe(transformer)
    for row in range(len(REAL_LENGTHS)):
        np.testing.assert_allclose(probe(token_ids[row]), scores[:, row:row + 1], atol=1e-6)


def test_models_without_attention_are_refused():
    lstm = build_model(tiny("lstm"), **SIZES)
    assert not has_attention(lstm)
    with pytest.raises(ValueError, match="no attention layers.*transformer"):
        attention_scores(lstm, np.ones((1, 4), dtype=np.int32))


def test_has_attention_finds_encoder_blocks(transformer):
    assert has_attention(transformer)


def test_ids_longer_than_the_run_are_refused(transformer):
    with pytest.raises(ValueError, match="T=13.*at most 12"):
        attention_scores(transformer, np.ones((1, SEQUENCE_LENGTH + 1), dtype=np.int32))


def test_table_leaves_padding_out(scores):
    tokens = ["a", "fine", "movie"] + [""] * (SEQUENCE_LENGTH - 3)  # text 0 has 3 real tokens
    table = attention_table(scores[:, 0], tokens)
    assert set(table["query_position"]) == set(table["key_position"]) == {0, 1, 2}
    assert len(table) == NUM_LAYERS * (NUM_HEADS + 1) * 3 * 3
    per_query = table.groupby(["layer", "head", "query_position"])["weight"].sum()
    np.testing.assert_allclose(per_query, 1.0, atol=1e-5)


def test_table_labels_are_unique_per_position(scores):
    tokens = ["the", "movie", "the"] + [""] * (SEQUENCE_LENGTH - 3)
    table = attention_table(scores[:, 0], tokens)
    assert sorted(set(table["key_token"])) == ["0:the", "1:movie", "2:the"]


def test_table_mean_head_averages_the_heads(scores):
    tokens = [f"w{i}" for i in range(SEQUENCE_LENGTH)]
    table = attention_table(scores[:, 2], tokens)
    keys = ["layer", "query_position", "key_position"]
    mean = table[table["head"] == "mean"].set_index(keys)["weight"]
    heads = table[table["head"] != "mean"].groupby(keys)["weight"].mean()
    np.testing.assert_allclose(mean.sort_index(), heads.sort_index(), atol=1e-7)


def test_table_rejects_tokens_of_the_wrong_length(scores):
    with pytest.raises(ValueError, match="tokens: received 3, expected 12"):
        attention_table(scores[:, 0], ["a", "b", "c"])


# ------------------------------------------------------- relative weights, spread
def test_relative_weight_is_the_weight_over_an_even_share(scores):
    tokens = ["a", "fine", "movie"] + [""] * (SEQUENCE_LENGTH - 3)
    table = attention_table(scores[:, 0], tokens)
    np.testing.assert_allclose(table["relative_weight"], table["weight"] * 3)


def uniform_map(num_tokens: int) -> AttentionMap:
    """A one-layer, one-head map with every row spread evenly."""
    scores = np.full((1, 1, num_tokens, num_tokens), 1.0 / num_tokens, dtype=np.float32)
    return map_of(scores)


def peaked_map(num_tokens: int, cue: int) -> AttentionMap:
    """Every row puts 90% of its weight on token `cue`."""
    scores = np.full((1, 1, num_tokens, num_tokens), 0.1 / (num_tokens - 1), dtype=np.float32)
    scores[..., cue] = 0.9
    return map_of(scores)


def map_of(scores: np.ndarray, text_length: int | None = None, truncation: str = "pre") -> AttentionMap:
    num_tokens = scores.shape[-1]
    tokens = [f"w{i}" for i in range(num_tokens)]
    text_length = text_length or num_tokens
    return AttentionMap(
        run_id="r1", label="transformer", tokens=tokens, positions=np.arange(num_tokens),
        scores=scores, table=attention_table(scores, tokens), text_length=text_length,
        sequence_length=num_tokens, truncation=truncation,
        first_kept=text_length - num_tokens if truncation == "pre" else 0,
    )


def test_nearly_uniform_sentence_appears_for_a_uniform_map_only():
    uniform = attention_view(uniform_map(10), 1, "mean")
    assert nearly_uniform(uniform_map(10).table, 1)
    assert any("nearly uniform" in note and "1/10" in note for note in uniform.notes)
    peaked = peaked_map(10, cue=4)
    assert not nearly_uniform(peaked.table, 1)
    assert largest_peak(peaked.table, 1) == pytest.approx(9.0)
    assert not any("uniform" in note for note in attention_view(peaked, 1, "mean").notes)


def test_a_long_text_is_shown_as_a_window_or_its_most_attended_tokens():
    found = peaked_map(80, cue=70)
    window = attention_view(found, 1, "1", WINDOW, first=10)
    assert sorted(set(window.table["query_position"])) == list(range(10, 10 + MAX_SHOWN_TOKENS))
    assert any("tokens 11 to 40 of the 80" in note for note in window.notes)
    top = attention_view(found, 1, "1", MOST_ATTENDED)
    assert 70 in set(top.table["key_position"])
    assert top.table["key_position"].nunique() == MAX_SHOWN_TOKENS
    assert any(f"the {MAX_SHOWN_TOKENS} of 80 tokens that receive the most attention" in note
               for note in top.notes)
    short = attention_view(peaked_map(12, cue=3), 1, "1", WINDOW, first=5)
    assert short.table["key_position"].nunique() == 12 and short.notes == []


def test_a_cut_text_says_the_map_does_not_start_at_its_beginning():
    found = map_of(peaked_map(20, cue=2).scores, text_length=120, truncation="pre")
    notes = attention_view(found, 1, "mean").notes
    assert any("only the last 20" in note and "token 101" in note for note in notes)
    cut_end = map_of(found.scores, text_length=120, truncation="post")
    assert any("only the first 20" in note for note in attention_view(cut_end, 1, "mean").notes)


# ----------------------------------------------------------------------- charts
def chart_spec(chart) -> dict:
    return chart.to_dict()


@pytest.mark.parametrize("num_tokens", [3, 12, MAX_SHOWN_TOKENS])
def test_heatmaps_label_every_token_and_fit_the_page(num_tokens):
    table = attention_view(peaked_map(num_tokens, cue=1), 1, "mean").table
    labels = [f"{i}:w{i}" for i in range(num_tokens)]
    heatmap = chart_spec(attention_charts.attention_heatmap_chart(table, 1, "mean"))
    cells = heatmap["layer"][0] if "layer" in heatmap else heatmap
    for axis in ("x", "y"):
        assert cells["encoding"][axis]["sort"] == labels
        assert cells["encoding"][axis]["axis"]["labelOverlap"] is False  # no label is dropped
    assert heatmap["width"] == "container"
    grid = chart_spec(attention_charts.attention_grid_chart(table, 1))
    assert grid["encoding"]["x"]["sort"] == labels and grid["encoding"]["x"]["axis"]["labelOverlap"] is False
    columns = grid["encoding"]["facet"]["columns"]
    width = attention_charts.ATTENTION_LABEL_WIDTH + columns * (grid["width"] + attention_charts.GRID_SPACING)
    assert width <= attention_charts.ATTENTION_PAGE_WIDTH
    # Each token keeps at least a 12-pixel row and column for its label.
    assert grid["width"] >= 12 * num_tokens


def test_heatmap_colour_marks_departures_from_an_even_share():
    table = peaked_map(10, cue=4).table
    heatmap = chart_spec(attention_charts.attention_heatmap_chart(table, 1, "1"))
    scale = heatmap["layer"][0]["encoding"]["color"]["scale"]
    assert scale["type"] == "log" and scale["domainMid"] == 1
    data = next(iter(heatmap["datasets"].values()))
    shades = {row["key_position"]: row["shade"] for row in data if row["query_position"] == 0}
    assert shades[4] == pytest.approx(8.0)  # 9x an even share, clipped to the scale's top
    uniform = chart_spec(attention_charts.attention_heatmap_chart(uniform_map(10).table, 1, "1"))
    assert {round(row["shade"], 6) for row in next(iter(uniform["datasets"].values()))} == {1.0}


# ------------------------------------------------------ trained: attention at work
LONGRANGE_LENGTH = 16
LONGRANGE_WORDS = ["", *synthetic.LABEL_WORDS, *synthetic.DISTRACTORS]  # id 0 = padding


def longrange_ids(num_texts: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`synthetic-longrange` texts as ids (N, T): `good` and `bad` once each, the label their order.

    Both cues are in every text, so no bag of words beats chance: the model
    must compare their positions, which takes attention (with position embeddings).
    """
    texts, labels = synthetic.generate_longrange(num_texts, LONGRANGE_LENGTH, rng)
    index = {word: i for i, word in enumerate(LONGRANGE_WORDS)}
    return np.array([[index[w] for w in text.split()] for text in texts], dtype=np.int32), labels


def test_a_trained_transformer_attends_to_the_cue_tokens():
    import keras

    rng = np.random.default_rng(0)
    ids, labels = longrange_ids(1000, rng)
    test_ids, test_labels = longrange_ids(200, rng)
    # The default Transformer (scaled embeddings), without dropout so few steps suffice.
    model = build_model(ModelConfig(arch="transformer", dropout_rate=0.0), seed=0,
                        vocabulary_size=len(LONGRANGE_WORDS), sequence_length=LONGRANGE_LENGTH,
                        num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="binary_crossentropy",
                  metrics=["accuracy"], jit_compile=True, steps_per_execution=8)
    model.fit(ids, labels, epochs=10, batch_size=32, verbose=0)
    accuracy = model.evaluate(test_ids, test_labels, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.85
    scores = attention_scores(model, test_ids[:50])[0]  # (texts, heads, T, T)
    is_cue = np.isin(test_ids[:50], [1, 2])  # (texts, T): good, bad
    on_cues = (scores * is_cue[:, None, None, :]).sum(axis=-1)  # (texts, heads, T)
    # An even spread gives the two cues 2/T of each row; the trained rows give them 3x+ that.
    assert on_cues.mean(axis=(0, 2)).min() > 3 * (2 / LONGRANGE_LENGTH)


# ------------------------------------------------------------- the page (AppTest)
PAGE_RUN = {
    "data.dataset": "toy", "data.sequence_length": 12, "model.arch": "transformer",
    "model.embedding_dim": 8, "model.num_heads": 2, "model.key_dim": 4, "model.ff_dim": 8,
    "train.epochs": 1, "train.batch_size": 16, "train.jit_compile": False,
}


@pytest.fixture(scope="module")
def two_transformers(toy_runs, copy_runs, tmp_path_factory):
    """(home, [run ids, newest first]) of two tiny Transformers (seeds 0 and 1) for the page tests.

    The seed-0 one is the session's (tests/conftest.py), copied; the seed-1 one is trained here.
    """
    from seqlab.config import RunConfig
    from seqlab.jobs import train_foreground
    from seqlab.store import RunStore

    home, runs = copy_runs(toy_runs, tmp_path_factory.mktemp("attention") / "home", keep=("transformer",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQLAB_HOME", str(home))
        record = train_foreground(RunConfig().with_overrides({**PAGE_RUN, "seed": 1}), RunStore(home))
    assert record.status == "completed", record.message
    return home, [record.run_id, runs["transformer"]]


def test_the_url_holds_the_picked_run_id_not_its_label(two_transformers, monkeypatch):
    home, (newest, older) = two_transformers
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = check_page(open_page(ATTENTION_PAGE).run())
    assert at.query_params["run"] == newest
    at.selectbox(key="attention.run_id").set_value(older).run()
    check_page(at)
    assert at.query_params["run"] == older
    assert "There is no run" not in texts_of(at.info)  # the drawn run is never called missing
    # A link opens its run.
    linked = open_page(ATTENTION_PAGE)
    linked.query_params["attention.run_id"] = older
    check_page(linked.run())
    assert linked.selectbox(key="attention.run_id").value == older
    assert "There is no run" not in texts_of(linked.info)


def test_a_link_to_an_unknown_run_gives_one_clear_notice(two_transformers, monkeypatch):
    home, (newest, _) = two_transformers
    monkeypatch.setenv("SEQLAB_HOME", str(home))
    at = open_page(ATTENTION_PAGE)
    at.query_params["attention.run_id"] = "r-gone"
    check_page(at.run())
    notices = [str(info.value) for info in at.info if "r-gone" in str(info.value)]
    assert notices == ["There is no run 'r-gone' in this store; pick a transformer run below."]
    # The first run is drawn instead, and the URL now names it.
    assert at.selectbox(key="attention.run_id").value == newest
    assert at.query_params["run"] == newest
    assert any("weight" in frame for frame in chart_frames(at))


def test_links_name_runs_by_id_and_old_label_links_still_resolve():
    from seqlab.views.attention import linked_run

    runs = {"r1": "transformer 2h x1 · IMDB (r1)", "r2": "transformer 4h x1 · toy (r2)"}
    assert linked_run("r2", runs) == "r2"
    assert linked_run("transformer 2h x1 · IMDB (r1)", runs) == "r1"  # a link saved before ids
    assert linked_run("r9", runs) is None and linked_run(None, runs) is None
