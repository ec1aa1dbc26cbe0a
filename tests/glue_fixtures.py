"""GLUE files in the official MNLI and SST-2 layouts, small enough for tests, with the official
unlabelled test sets (their GLUE indices deliberately not the row numbers)."""
from __future__ import annotations

MNLI_TRAIN_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                     "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER.replace("label1", "label1\tlabel2\tlabel3\tlabel4\tlabel5")
MNLI_TEST_HEADER = MNLI_TRAIN_HEADER.removesuffix("\tlabel1\tgold_label")
# official test file -> examples
MNLI_TESTS = {"test_matched.tsv": 6, "test_mismatched.tsv": 3}
SST2_TEST_EXAMPLES = 5
MNLI_LABELS = ["contradiction", "entailment", "neutral"]
# Quotes as the official files hold them: unbalanced, and never quoting a field.
QUOTED = 'The cat said "hello to the dog'


def mnli_row(index: int, premise: str, hypothesis: str, label: str, dev: bool) -> str:
    votes = [label] * (5 if dev else 1)
    return "\t".join([mnli_test_row(index, premise, hypothesis), *votes, label])


def mnli_test_row(index: int, premise: str, hypothesis: str) -> str:
    """A row of an official test file: a train row's columns up to sentence2, no labels."""
    return "\t".join([str(index), "1", f"{index}e", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)",
                      premise, hypothesis])


def write_mnli(glue_dir, tests: bool = True) -> dict[str, list[str]]:
    """The three labelled MNLI files and (with `tests`) the two unlabelled test sets; returns the
    gold labels of each labelled split, in file order."""
    glue_dir.mkdir(parents=True, exist_ok=True)
    labels = {}
    for split, name, count in (("train", "train.tsv", 12), ("valid", "dev_matched.tsv", 5),
                               ("valid_mismatched", "dev_mismatched.tsv", 4)):
        dev = split != "train"
        gold = [MNLI_LABELS[(i * 7 + len(name)) % 3] for i in range(count)]
        rows = [mnli_row(i, QUOTED if i == 0 else f"A man walks to the market {i}.",
                         f"The man's \"dog\" sleeps {i}.", label, dev) for i, label in enumerate(gold)]
        header = MNLI_DEV_HEADER if dev else MNLI_TRAIN_HEADER
        (glue_dir / name).write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        labels[split] = gold
    for name, count in MNLI_TESTS.items() if tests else ():
        rows = [mnli_test_row(3 * i + len(name), QUOTED if i == 1 else f"A woman reads a book {i}.",
                              f"Nobody reads {i}.") for i in range(count)]
        (glue_dir / name).write_text(MNLI_TEST_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return labels


def write_sst2(glue_dir, labelled_test: bool) -> None:
    glue_dir.mkdir(parents=True, exist_ok=True)
    for name, count in (("train.tsv", 10), ("dev.tsv", 4)):
        rows = [f"it 's a \"charming\" film {i} \t{i % 2}" for i in range(count)]
        (glue_dir / name).write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    if labelled_test:  # as the toy task has
        test = "sentence\tlabel\nfine film\t1\n"
    else:
        rows = [f"{10 + 2 * i}\ta \"fine\" film {i} " for i in range(SST2_TEST_EXAMPLES)]
        test = "index\tsentence\n" + "\n".join(rows) + "\n"
    (glue_dir / "test.tsv").write_text(test, encoding="utf-8")
