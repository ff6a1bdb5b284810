"""Datasets (toy, synthetic, IMDB, user files) and the vectorizer."""

import gzip
import hashlib
import io
import json
import tarfile

import numpy as np
import pytest

from seqlab.config import DATA_FILE_SUFFIXES, DataConfig, RunConfig
from seqlab.data import (
    DatasetError,
    TextDataset,
    dataset_summary_table,
    examples_table,
    imdb_status,
    load_dataset,
    read_text_table,
    split_tokens,
    standardize,
    token_lengths,
)
from seqlab.data import files as data_files
from seqlab.data import imdb as data_imdb
from seqlab.data.synthetic import LABEL_WORDS, TASKS, cue_window
from seqlab.data.vectorize import VECTORIZED_CACHE, Vectorizer, pad_ids, tokenization_table, vectorize
from seqlab.store import RunStore


def all_texts(dataset):
    return dataset.train_texts + dataset.val_texts + dataset.test_texts


def all_labels(dataset):
    return np.concatenate([dataset.train_labels, dataset.val_labels, dataset.test_labels])


# ------------------------------------------------------------------ toy
def test_toy_has_both_classes_in_every_split():
    dataset = load_dataset(DataConfig(dataset="toy"), seed=3)
    assert dataset.class_names == ("negative", "positive")
    for split, (texts, labels) in dataset.splits().items():
        assert len(texts) == len(labels)
        assert set(labels.tolist()) == {0, 1}, split
        assert labels.dtype == np.int64


def test_toy_includes_very_short_sentences_for_padding_demos():
    lengths = token_lengths(all_texts(load_dataset(DataConfig(dataset="toy"), seed=0)))
    assert lengths.min() == 1 and lengths.max() >= 6


def test_toy_holds_out_enough_sentences_to_measure_test_accuracy():
    dataset = load_dataset(DataConfig(dataset="toy"), seed=0)
    assert len(dataset.test_texts) >= 100 and len(dataset.val_texts) >= 100
    assert len(set(all_texts(dataset))) == len(all_texts(dataset))  # no sentence in two splits


def test_summary_table_counts_every_example_by_class():
    dataset = load_dataset(DataConfig(dataset="toy"), seed=0)
    table = dataset_summary_table(dataset)
    assert list(table["split"]) == ["train", "validation", "test"]
    assert table["examples"].sum() == len(all_texts(dataset))
    assert (table["negative"] + table["positive"] == table["examples"]).all()


def test_examples_table_labels_match_class_names():
    dataset = load_dataset(DataConfig(dataset="toy"), seed=0)
    table = examples_table(dataset, "validation", n=5, seed=1)
    assert len(table) == 5
    assert set(table["text"]) <= set(dataset.val_texts)
    assert [dataset.class_names[i] for i in table["label"]] == list(table["class_name"])
    with pytest.raises(ValueError, match="validation"):
        examples_table(dataset, "dev")


# ------------------------------------------------------------ synthetic
@pytest.mark.parametrize("task", TASKS)
def test_synthetic_is_deterministic_by_seed(task):
    config = DataConfig(dataset=task, num_examples=60, synthetic_length=12)
    first, again, other = load_dataset(config, 5), load_dataset(config, 5), load_dataset(config, 6)
    assert all_texts(first) == all_texts(again)
    assert np.array_equal(all_labels(first), all_labels(again))
    assert all_texts(first) != all_texts(other)
    assert len(all_texts(first)) == 60
    assert np.bincount(all_labels(first)).tolist() == [30, 30]


def test_presence_cue_alone_decides_the_label():
    length = 30
    dataset = load_dataset(DataConfig(dataset="synthetic-presence", num_examples=80, synthetic_length=length), 0)
    for text, label in zip(all_texts(dataset), all_labels(dataset)):
        tokens = text.split()
        assert len(tokens) == length
        cues = [i for i, token in enumerate(tokens) if token in LABEL_WORDS]
        assert len(cues) == 1
        assert tokens[cues[0]] == LABEL_WORDS[label]
        assert all(token.startswith("w") for i, token in enumerate(tokens) if i != cues[0])


def test_longrange_first_of_the_two_cues_decides_and_both_sit_near_the_start():
    length = 30
    dataset = load_dataset(DataConfig(dataset="synthetic-longrange", num_examples=80, synthetic_length=length), 0)
    for text, label in zip(all_texts(dataset), all_labels(dataset)):
        tokens = text.split()
        assert len(tokens) == length
        cues = [i for i, token in enumerate(tokens) if token in LABEL_WORDS]
        assert len(cues) == 2 and {tokens[i] for i in cues} == set(LABEL_WORDS)
        assert tokens[cues[0]] == LABEL_WORDS[label]  # the first one decides
        assert cues[1] < cue_window(length) <= length // 2  # both far from the end
        assert all(token.startswith("w") for i, token in enumerate(tokens) if i not in cues)


def test_longrange_length_knob_changes_the_length():
    short = load_dataset(DataConfig(dataset="synthetic-longrange", num_examples=20, synthetic_length=8), 0)
    long = load_dataset(DataConfig(dataset="synthetic-longrange", num_examples=20, synthetic_length=50), 0)
    assert set(token_lengths(all_texts(short))) == {8}
    assert set(token_lengths(all_texts(long))) == {50}


def test_variable_lengths_spread_and_label_is_the_majority_word():
    length = 40
    dataset = load_dataset(DataConfig(dataset="synthetic-variable", num_examples=300, synthetic_length=length), 0)
    lengths = token_lengths(all_texts(dataset))
    assert lengths.min() >= 3 and lengths.max() <= length
    assert lengths.min() <= 8 and lengths.max() >= length - 5
    assert lengths.std() > length / 6
    for text, label in zip(all_texts(dataset), all_labels(dataset)):
        tokens = text.split()
        good, bad = tokens.count("good"), tokens.count("bad")
        assert good != bad and (good > bad) == bool(label)


# ----------------------------------------------------------------- IMDB
def test_imdb_subset_from_shared_copy_is_balanced_and_clean(imdb_dir, monkeypatch):
    monkeypatch.setenv("SEQLAB_IMDB", str(imdb_dir))
    dataset = load_dataset(DataConfig(dataset="imdb", subset=200, validation_fraction=0.2), seed=1)
    assert len(dataset.train_texts) + len(dataset.val_texts) == 200
    assert len(dataset.val_texts) == 40
    assert np.bincount(np.concatenate([dataset.train_labels, dataset.val_labels])).tolist() == [100, 100]
    assert np.bincount(dataset.test_labels).tolist() == [100, 100]
    assert not any("<br" in text for text in all_texts(dataset))
    assert "200 test reviews" in dataset.description
    assert imdb_status().found


def test_imdb_subset_depends_on_seed(imdb_dir, monkeypatch):
    monkeypatch.setenv("SEQLAB_IMDB", str(imdb_dir))
    config = DataConfig(dataset="imdb", subset=50)
    assert load_dataset(config, 1).train_texts != load_dataset(config, 2).train_texts


def offline(monkeypatch, tmp_path):
    """No SEQLAB_IMDB copy, an empty Keras cache and a failing download."""
    import keras

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SEQLAB_IMDB", str(empty))
    monkeypatch.setenv("HOME", str(empty))
    monkeypatch.setenv("KERAS_HOME", str(empty / ".keras"))

    def no_network(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    return empty


def test_imdb_offline_without_copy_says_what_to_download_and_where(monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    with pytest.raises(DatasetError) as caught:
        load_dataset(DataConfig(dataset="imdb", subset=20), 0)
    message = str(caught.value)
    assert "SEQLAB_IMDB" in message
    assert "aclImdb_v1.tar.gz" in message and "https://" in message
    assert "no network" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert not imdb_status().found


def make_acl_files(write):
    """Calls write(relative_path, text) for a tiny aclImdb: 3 reviews per split and label."""
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            for i in range(3):
                word = "wonderful" if label == "pos" else "awful"
                write(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt",
                      f"A {word} film.<br /><br />Review {i} &amp; more")
    write("aclImdb/README", "not a review")


def test_imdb_from_acl_folder(monkeypatch, tmp_path):
    def write(relative, text):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    make_acl_files(write)
    monkeypatch.setenv("SEQLAB_IMDB", str(tmp_path))
    dataset = load_dataset(DataConfig(dataset="imdb", validation_fraction=0.2), 0)
    assert len(all_texts(dataset)) == 12 and len(dataset.test_texts) == 6
    for text, label in zip(all_texts(dataset), all_labels(dataset)):
        assert ("wonderful" in text) == bool(label)
        assert "<br" not in text and "& more" in text


def test_imdb_from_tarball_without_unpacking(monkeypatch, tmp_path):
    tarball = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        def write(relative, text):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(relative)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        make_acl_files(write)
    monkeypatch.setenv("SEQLAB_IMDB", str(tarball))
    dataset = load_dataset(DataConfig(dataset="imdb", subset=4), 0)
    assert np.bincount(dataset.test_labels).tolist() == [2, 2]
    assert len(dataset.train_texts) + len(dataset.val_texts) == 4
    assert not (tmp_path / "aclImdb").exists()
    assert str(tarball) in dataset.source


def write_npz_cache(folder):
    """A Keras-style imdb.npz (object arrays of word ids) + word index; returns its SHA-256."""
    folder.mkdir(parents=True)
    (folder / "imdb_word_index.json").write_text(json.dumps({"great": 1, "awful": 2, "film": 3}))
    ragged = lambda rows: np.array([np.array(r) for r in rows] + [None], dtype=object)[:-1]  # noqa: E731
    np.savez(folder / "imdb.npz", x_train=ragged([[1, 3], [2, 3], [3, 1], [2]]), y_train=np.array([1, 0, 1, 0]),
             x_test=ragged([[1], [2, 3]]), y_test=np.array([1, 0]))
    return hashlib.sha256((folder / "imdb.npz").read_bytes()).hexdigest()


def test_imdb_npz_in_keras_cache_is_refused_unless_official(monkeypatch, tmp_path):
    empty = offline(monkeypatch, tmp_path)
    write_npz_cache(empty / ".keras" / "datasets")
    with pytest.raises(DatasetError, match="SHA-256"):
        load_dataset(DataConfig(dataset="imdb"), 0)


def test_imdb_npz_with_official_hash_is_decoded_to_words(monkeypatch, tmp_path):
    empty = offline(monkeypatch, tmp_path)
    digest = write_npz_cache(empty / ".keras" / "datasets")
    monkeypatch.setattr(data_imdb, "IMDB_NPZ_SHA256", digest)
    dataset = load_dataset(DataConfig(dataset="imdb", validation_fraction=0.25), 0)
    assert sorted(dataset.test_texts) == ["awful film", "great"]
    assert "Keras cache" in dataset.source


# ----------------------------------------------------------- user files
GOOD_ROWS = [("I loved it, really", "pos"), ("Terrible; awful", "neg"), ("It was fine", "neutral"),
             ("Great fun", "pos"), ("Boring", "neg"), ("Okay I guess", "neutral")] * 3


def good_file(file_format):
    if file_format == "csv":
        lines = ["id,review,sentiment"] + [f'{i},"{t}",{c}' for i, (t, c) in enumerate(GOOD_ROWS)]
    elif file_format == "tsv":
        lines = ["id\ttext\tlabel"] + [f"{i}\t{t}\t{c}" for i, (t, c) in enumerate(GOOD_ROWS)]
    else:
        lines = [json.dumps({"id": i, "sentence": t, "class": c}) for i, (t, c) in enumerate(GOOD_ROWS)]
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize("file_format", ["csv", "tsv", "jsonl"])
def test_user_file_with_string_labels_and_three_classes(file_format):
    texts, labels, class_names = read_text_table(good_file(file_format), f"mine.{file_format}")
    assert class_names == ("neg", "neutral", "pos")
    assert texts == [t for t, _ in GOOD_ROWS]
    assert [class_names[i] for i in labels] == [c for _, c in GOOD_ROWS]
    assert labels.dtype == np.int64


def test_user_file_columns_by_number_and_integer_labels_sort_numerically(tmp_path):
    rows = ["a,b"] + [f"text number {i},{label}" for i, label in enumerate([10, 2, 2, 10, 9, 9])]
    path = tmp_path / "numbers.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    texts, labels, class_names = read_text_table(path, text_column="0", label_column="1")
    assert class_names == ("2", "9", "10")
    assert labels.tolist() == [2, 0, 0, 2, 1, 1]


def test_user_file_two_unnamed_columns_are_detected_by_length():
    content = b"first,second\n1,a long enough text\n0,another long text here\n"
    texts, labels, _ = read_text_table(content, "pair.csv")
    assert texts == ["a long enough text", "another long text here"]
    assert labels.tolist() == [1, 0]


def test_user_file_loads_as_a_split_dataset(tmp_path):
    path = tmp_path / "mine.jsonl.gz"
    path.write_bytes(gzip.compress(good_file("jsonl")))
    dataset = load_dataset(DataConfig(dataset=str(path)), 0)
    assert dataset.num_classes == 3
    assert len(all_texts(dataset)) == len(GOOD_ROWS)
    for _, labels in dataset.splits().values():
        assert set(labels.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("suffix", DATA_FILE_SUFFIXES)
def test_every_suffix_that_validates_is_read(tmp_path, suffix):
    """The one list of suffixes: what validation accepts as a path, the reader reads."""
    kind = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv"}.get(suffix.removesuffix(".gz"), "jsonl")
    content = good_file(kind)
    path = tmp_path / f"mine{suffix}"
    path.write_bytes(gzip.compress(content) if suffix.endswith(".gz") else content)
    config = RunConfig().with_overrides({"data.dataset": str(path)}).validate()
    assert len(all_texts(load_dataset(config.data, 0))) == len(GOOD_ROWS)


def bad_case_rows(n=3):
    return [f"text {i},{'a' if i % 2 else 'b'}" for i in range(n)]


BAD_FILES = {
    "missing columns": ("t.csv", "foo,bar,baz\n1,2,3\n", ["columns found: foo, bar, baz"]),
    "empty file": ("t.csv", "", ["empty"]),
    "header only": ("t.csv", "text,label\n", ["no rows"]),
    "one class": ("t.csv", "text,label\nfine,a\nok,a\n", ["only one class", "'a'"]),
    "empty text": ("t.csv", "text,label\nfine,a\n  ,b\n", ["line 3", "empty text"]),
    "empty label": ("t.csv", "text,label\nfine,a\nok,\n", ["line 3", "empty label"]),
    "long text": ("t.csv", "text,label\nfine,a\n" + "x" * 100_001 + ",b\n", ["line 3", "100,000"]),
    "wrong field count": ("t.csv", "text,label\nfine,a\nnice, fun,b\n", ["line 3", "3", "double quotes"]),
    "malformed json": ("t.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": \n', ["line 2", "malformed JSON"]),
    "json not an object": ("t.jsonl", '{"text": "a", "label": 1}\n[1, 2]\n', ["line 2", "object"]),
    "too many classes": ("t.csv", "text,label\n" + "".join(f"t{i},{i}\n" for i in range(101)), ["101", "100 classes"]),
    "unknown type": ("t.xlsx", "text,label\n", [".xlsx", ".csv"]),
    "text column not found": ("t.csv", "review,label\nfine,a\nok,b\n", ["'body'", "columns found: review, label"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_user_file_names_the_problem(case):
    filename, content, fragments = BAD_FILES[case]
    text_column = "body" if case == "text column not found" else ""
    with pytest.raises(DatasetError) as caught:
        read_text_table(content.encode("utf-8"), filename, text_column=text_column)
    for fragment in fragments:
        assert fragment in str(caught.value), (case, str(caught.value))
    assert filename in str(caught.value)


def test_undecodable_bytes_name_the_line_and_utf8():
    content = "text,label\nfine,a\n".encode() + b"caf\xe9,b\n"
    with pytest.raises(DatasetError, match=r"line 3 \(byte offset 21\).*UTF-8"):
        read_text_table(content, "latin1.csv")


def test_size_limits_for_file_and_rows(monkeypatch):
    content = ("text,label\n" + "\n".join(bad_case_rows(10))).encode()
    monkeypatch.setattr(data_files, "MAX_FILE_BYTES", 50)
    with pytest.raises(DatasetError, match="too large"):
        read_text_table(content, "big.csv")
    monkeypatch.setattr(data_files, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(data_files, "MAX_ROWS", 5)
    with pytest.raises(DatasetError, match="more than 5 rows"):
        read_text_table(content, "big.csv")


def test_missing_user_file_mentions_builtin_names(tmp_path):
    with pytest.raises(DatasetError, match="toy"):
        load_dataset(DataConfig(dataset=str(tmp_path / "nope.csv")), 0)


# ------------------------------------------------------- standardization
def test_standardize_removes_breaks_and_punctuation():
    assert standardize("Don't  STOP!<br /><br />It's GREAT.") == "dont stop its great"
    assert split_tokens("?!") == []
    assert split_tokens("a\u00a0b\tc") == ["a", "b", "c"]


def test_standardize_matches_keras_default_standardization():
    import keras

    texts = ["Hello, World! It's a (great) day.", "Well-made: 10/10 -- 'must see'", "UPPER lower MiXeD?"]
    layer = keras.layers.TextVectorization()  # standardize="lower_and_strip_punctuation"
    layer.adapt(texts)
    keras_tokens = set(layer.get_vocabulary()[1:])  # drops only the padding token ""
    assert keras_tokens - {"[UNK]"} == {token for text in texts for token in split_tokens(text)}


# ------------------------------------------------------------ vectorize
def tiny_dataset(train=None, test=None):
    train = train or ["the cat sat", "the dog ran far away today", "a cat", "dog"]
    labels = np.arange(len(train)) % 2
    test = test or ["the zebra sat", "cat"]
    return TextDataset(
        name="tiny", class_names=("a", "b"),
        train_texts=train, train_labels=labels.astype(np.int64),
        val_texts=["the cat"], val_labels=np.array([1], np.int64),
        test_texts=test, test_labels=np.arange(len(test)) % 2,
        source="test", description="tiny",
    )


def test_vectorize_shapes_types_and_train_only_vocabulary(tmp_path):
    data = vectorize(tiny_dataset(), DataConfig(sequence_length=5, vocabulary_size=50), cache_dir=tmp_path)
    assert data.x_train.shape == (4, 5) and data.x_val.shape == (1, 5) and data.x_test.shape == (2, 5)
    assert data.x_train.dtype == np.int32 and data.y_test.dtype == np.int64
    assert data.vocabulary[:2] == ["", "[UNK]"] and data.vocabulary[2] == "the"
    assert "zebra" not in data.vocabulary  # only in the test split
    assert data.x_test[0, 1] == 1
    assert data.num_classes == 2 and data.class_names == ("a", "b")


def test_vectorize_respects_vocabulary_size(tmp_path):
    dataset = load_dataset(DataConfig(dataset="synthetic-variable", num_examples=60, synthetic_length=12), 0)
    data = vectorize(dataset, DataConfig(vocabulary_size=12, sequence_length=12), cache_dir=tmp_path)
    assert len(data.vocabulary) == 12
    assert data.x_train.max() < 12


@pytest.mark.parametrize("truncation,padding,expected", [
    ("post", "post", [[2, 3, 4, 5], [6, 0, 0, 0]]),
    ("pre", "post", [[4, 5, 7, 8], [6, 0, 0, 0]]),
    ("post", "pre", [[2, 3, 4, 5], [0, 0, 0, 6]]),
    ("pre", "pre", [[4, 5, 7, 8], [0, 0, 0, 6]]),
])
def test_pad_ids_sides(truncation, padding, expected):
    ids = pad_ids(np.array([2, 3, 4, 5, 7, 8, 6]), np.array([6, 1]), 4, truncation, padding)
    assert ids.tolist() == expected


def test_vectorize_truncation_and_padding_sides(tmp_path):
    dataset = tiny_dataset()
    post = vectorize(dataset, DataConfig(sequence_length=3, truncation="post", padding="post"), tmp_path)
    pre = vectorize(dataset, DataConfig(sequence_length=3, truncation="pre", padding="pre"), tmp_path)
    ids = {token: i for i, token in enumerate(post.vocabulary)}
    long_text = dataset.train_texts[1].split()
    assert post.x_train[1].tolist() == [ids[t] for t in long_text[:3]]
    assert pre.x_train[1].tolist() == [ids[t] for t in long_text[-3:]]
    assert post.x_train[3].tolist() == [ids["dog"], 0, 0]
    assert pre.x_train[3].tolist() == [0, 0, ids["dog"]]


def test_vectorize_second_call_is_a_cache_hit(tmp_path):
    config = DataConfig(sequence_length=6)
    first = vectorize(tiny_dataset(), config, cache_dir=tmp_path)
    second = vectorize(tiny_dataset(), config, cache_dir=tmp_path)
    assert not first.cache_hit and second.cache_hit
    assert np.array_equal(first.x_test, second.x_test) and first.vocabulary == second.vocabulary
    changed = vectorize(tiny_dataset(), DataConfig(vocabulary_size=30), cache_dir=tmp_path)
    assert not changed.cache_hit
    assert not list(tmp_path.glob(".*.tmp"))


def test_new_sequence_length_pads_cached_ids_without_tokenizing_again(tmp_path):
    long = vectorize(tiny_dataset(), DataConfig(sequence_length=12), cache_dir=tmp_path)
    short = vectorize(tiny_dataset(), DataConfig(sequence_length=3, truncation="post"), cache_dir=tmp_path)
    assert short.cache_hit
    np.testing.assert_array_equal(short.x_train, long.x_train[:, :3])


def test_vectorize_caches_in_the_store_folder_it_is_given_and_reads_no_environment(tmp_path, seqlab_home):
    store = RunStore(tmp_path / "given")
    first = vectorize(tiny_dataset(), DataConfig(sequence_length=4), store.cache_dir(VECTORIZED_CACHE))
    assert list((store.home / "cache" / "vectorized").glob("*.npz"))
    again = vectorize(tiny_dataset(), DataConfig(sequence_length=4), store.cache_dir(VECTORIZED_CACHE))
    assert not first.cache_hit and again.cache_hit
    uncached = vectorize(tiny_dataset(), DataConfig(sequence_length=4))  # no folder: no disk cache
    assert not uncached.cache_hit and np.array_equal(uncached.x_train, first.x_train)
    assert not seqlab_home.exists()  # $SEQLAB_HOME is the entry points' business


def test_vectorizer_encode_equals_vectorize_ids(tmp_path):
    dataset = load_dataset(DataConfig(dataset="toy"), 0)
    config = DataConfig(vocabulary_size=40, sequence_length=6, truncation="pre", padding="pre")
    data = vectorize(dataset, config, cache_dir=tmp_path)
    vectorizer = Vectorizer.from_vocabulary(data.vocabulary, config)
    assert np.array_equal(vectorizer.encode(dataset.train_texts), data.x_train)
    assert np.array_equal(vectorizer.encode(dataset.test_texts), data.x_test)
    vectorizer.save(tmp_path / "vocabulary.json")
    loaded = Vectorizer.load(tmp_path / "vocabulary.json", config)
    assert np.array_equal(loaded.encode(dataset.val_texts), data.x_val)
    assert loaded.tokens(data.x_train[0])[-1] in data.vocabulary


def test_vectorizer_rejects_a_vocabulary_without_padding_and_unknown():
    with pytest.raises(ValueError, match="UNK"):
        Vectorizer.from_vocabulary(["the", "cat"], DataConfig())


def test_tokenization_table_marks_padding_and_unknown_words():
    vocabulary = ["", "[UNK]", "the", "cat"]
    table = tokenization_table(["The cat", "the zebra cat sat"], vocabulary, DataConfig(sequence_length=4))
    assert len(table) == 8
    first = table[table["example"] == 0]
    assert first["token"].tolist() == ["the", "cat", "", ""]
    assert first["is_padding"].tolist() == [False, False, True, True]
    assert first["mask"].tolist() == [1, 1, 0, 0]
    second = table[table["example"] == 1]
    assert second["token"].tolist() == ["the", "[UNK]", "cat", "[UNK]"]
    assert second["id"].tolist() == [2, 1, 3, 1]
