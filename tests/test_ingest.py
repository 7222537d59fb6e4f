"""Ingest: facts checked by reading the papers, and proof that no text is lost or misplaced."""

from __future__ import annotations

import re

import pytest
from conftest import CORPUS, source_text

from qa.ingest import CorpusError, load_corpus, load_records, parse_document
from qa.text import parse_refs


def rows(doc, table):
    return [p for p in doc.passages if p.kind == "table_row" and p.table == table]


def row_with(doc, table, first_cell):
    return next(p for p in rows(doc, table) if p.cells[0][1] == first_cell)


def test_documents_carry_their_bibliographic_records(documents):
    zhang = documents["zhang2015"]
    assert zhang.title == "Exosomes in cancer: small particle, big player"
    assert zhang.year == 2015 and zhang.authors[0] == "Xu Zhang"
    assert zhang.doi == "10.1186/s13045-015-0181-x"
    assert documents["bae2018"].url.startswith("https://www.genesandcancer.com")


def test_each_paper_has_two_tables_with_every_row(documents):
    counts = {(d, t.number): len(t.row_ids) for d, doc in documents.items() for t in doc.tables}
    assert counts == {("zhang2015", 1): 49, ("zhang2015", 2): 25, ("bae2018", 1): 15, ("bae2018", 2): 6}


def test_table_columns_are_named(documents):
    zhang_t2 = documents["zhang2015"].tables[1]
    assert zhang_t2.columns == ["Exosomal cargos", "Cancer types", "Methods", "Clinical value", "Biofluids",
                                "References"]
    assert documents["bae2018"].tables[1].columns == ["Activities", "Pros", "Cons"]


def test_wrapped_cells_end_in_the_right_row(documents):
    met = row_with(documents["zhang2015"], 1, "MET")
    assert dict(met.cells) == {
        "Exosomal cargo": "MET", "Secreting cell": "Melanoma cells (highly metastatic)",
        "Recipient cell": "Bone marrow progenitor cells", "Function": "Promotes tumor growth and metastasis",
        "Reference": "[39]"}
    assert met.refs == [39]
    exotest = row_with(documents["zhang2015"], 2, "CD63, caveolin-1")
    assert dict(exotest.cells)["Methods"] == "In-house sandwich ELISA (Exotest)"
    assert dict(exotest.cells)["Clinical value"].startswith("Melanoma patients have more CD63- and caveolin-1-positive")
    assert exotest.refs == [127]


def test_rows_continued_on_a_new_page_stay_whole(documents):
    zhang = documents["zhang2015"]
    first_after_break = row_with(zhang, 1, "miR-125b, 130b, 155")
    assert dict(first_after_break.cells)["Recipient cell"] == "PC patient adipose-derived stem cells (pASCs)"
    prostate = row_with(zhang, 2, "miR-1290, miR-375")
    assert dict(prostate.cells)["Biofluids"] == "Plasma" and prostate.refs == [134]
    assert not any("(Continued)" in p.text for p in zhang.passages)
    assert [d.reason for d in zhang.discards].count("table continuation header") == 2


def test_multi_reference_and_bulleted_rows(documents):
    survivin = row_with(documents["zhang2015"], 1, "Survivin")
    assert survivin.refs == [25, 99]
    mdsc = row_with(documents["bae2018"], 2, "MDSC-derived")
    cells = dict(mdsc.cells)
    assert cells["Pros"] == "• Potential target of anti-tumor therapies"
    assert cells["Cons"].endswith("• Challenges in vesicle engineering and delivery")
    assert row_with(documents["bae2018"], 1, "VEGF").cells[1] == ("Cell type", "Red blood cells")


def test_table_row_text_names_table_caption_and_columns(documents):
    tf = row_with(documents["zhang2015"], 1, "TF")
    assert tf.text == ("Table 1 (Overview on the function of exosomes in cancer) | Exosomal cargo: TF | "
                       "Secreting cell: Squamous cells, colon cancer cells | Recipient cell: Endothelial cells | "
                       "Function: Promotes coagulation | Reference: [71]")


def test_no_table_text_leaks_into_prose_and_no_prose_into_rows(documents):
    for doc in documents.values():
        prose = " ".join(p.text for p in doc.passages if p.kind == "paragraph")
        assert "Secreting cell" not in prose and "Exosomal cargo" not in prose
        for row in (p for p in doc.passages if p.kind == "table_row"):
            assert all(len(value) < 200 for _, value in row.cells)
    tumorigenesis = " ".join(p.text for p in documents["zhang2015"].passages if p.section == "Tumorigenesis"
                             and p.kind == "paragraph")
    # The sentence interrupted by Figure 2 and all of Table 1 is whole again.
    assert "contain precursor microRNAs (pre-miRNAs) associated with RNA-induced silencing complex" in tumorigenesis


def test_figure_caption_cut_across_columns_is_rejoined(documents):
    fig2 = next(p for p in documents["zhang2015"].passages if p.id == "zhang2015-fig2")
    assert fig2.kind == "caption" and fig2.label == "Fig. 2"
    assert "critically involved in tumor initiation, growth, progression, metastasis, and drug resistance" in fig2.text
    prose = " ".join(p.text for p in documents["zhang2015"].passages if p.kind == "paragraph")
    assert "skew M2 polarization" not in prose


def test_every_word_of_each_source_is_in_a_passage_heading_or_listed_discard(documents):
    for doc in documents.values():
        source = source_text(doc.id)
        covered = bytearray(len(source))
        spans = [s for p in doc.passages for s in p.spans]
        spans += [(s.start, s.end) for s in doc.sections] + [(d.start, d.end) for d in doc.discards]
        for start, end in spans:
            covered[start:end] = b"\x01" * (end - start)
        lost = [m.group(0) for m in re.finditer(r"\w+", source) if not all(covered[m.start():m.end()])]
        assert lost == [], f"{doc.id}: words in no passage: {lost[:20]}"


def test_units_of_different_kinds_never_share_source_text(documents):
    for doc in documents.values():
        owner = {}
        for passage in doc.passages:
            for start, end in passage.spans:
                for i in range(start, end):
                    assert owner.setdefault(i, passage.kind) == passage.kind, (doc.id, passage.id, i)


def test_offsets_point_back_into_the_source(documents):
    for doc in documents.values():
        source = source_text(doc.id)
        for passage in doc.passages:
            first_word = re.match(r"\w+", passage.sentences[0].text if passage.kind != "table_row" else passage.cells[0][1])
            if first_word and passage.kind != "caption":
                assert first_word.group(0) in source[passage.start:passage.end]


def test_line_break_hyphenation_is_repaired_and_real_hyphens_kept(documents):
    text = " ".join(p.text for d in documents.values() for p in d.passages)
    assert "Exosome formation is a fine-tuned process which includes four stages" in text
    assert "significantly attenuates exosome uptake [18]" in text
    assert "bone marrow-derived cells" in text
    assert "transforming growth factor β (TGF-β) [10, 11]" in text
    assert "non-immune cells [2]" in text
    for real in ("miR-21", "TGF-β", "CD63-positive", "non-small", "tumor-derived"):
        assert real in text or real.replace("CD63-positive", "caveolin-1-positive") in text


def test_greek_letters_and_dashes_survive(documents):
    text = " ".join(p.text for d in documents.values() for p in d.passages)
    for kept in ("αvβ6", "ΔNp73", "HIF-1α", "NF-κB", "50–100 nm", "IFN-γ"):
        assert kept in text


def test_sections_are_detected(documents):
    zhang = [s.title for s in documents["zhang2015"].sections]
    assert {"Introduction", "Tumor angiogenesis", "Exosomes as cancer diagnostic biomarkers", "Conclusion"} <= set(zhang)
    bae = [s.title for s in documents["bae2018"].sections]
    assert "Exosome-mediated immune regulation in the tumor microenvironment" in bae
    assert all(len(t.split()) <= 12 for t in zhang + bae)


def test_sentences_do_not_break_on_abbreviations_or_inside_brackets(documents):
    sentences = [s.text for d in documents.values() for p in d.passages for s in p.sentences]
    assert any(s.startswith("Ostrowski et al. have identified that Rab27a/b affects") for s in sentences)
    assert any("Silverman et. al. identified exosome-based secretion" in s for s in sentences)
    assert any("density (1.13–1.19 g/ml)" in s for s in sentences)
    for s in sentences:
        assert not re.match(r"^(al\.|e\.g\.|i\.e\.|\d+\)\.|\d+\])", s), s
        assert not re.search(r"\b(et al|e\.g|i\.e|Fig|vs)\.$", s), s
        assert s.count("[") == s.count("]"), s


def test_reference_brackets_become_expanded_lists(documents):
    assert parse_refs("[2, 3, 5-7]") == [2, 3, 5, 6, 7]
    by_text = {s.text: s.refs for d in documents.values() for p in d.passages for s in p.sentences}
    apoptosis = next(refs for text, refs in by_text.items() if "selectively induce apoptosis in T cells" in text)
    assert apoptosis == [59, 61, 62, 63, 64]
    mirnas = next(refs for text, refs in by_text.items() if "Exosomal miRNAs have been suggested as diagnostic" in text)
    assert mirnas == [74, 75, 76, 77, 78, 79, 80]


def test_passage_ids_are_stable_and_unique(documents):
    again = load_corpus(CORPUS)
    ids = [p.id for d in documents.values() for p in d.passages]
    assert ids == [p.id for d in again for p in d.passages]
    assert len(ids) == len(set(ids))


def test_any_folder_with_documents_toml_is_a_corpus(tmp_path):
    (tmp_path / "documents.toml").write_text('[[document]]\nid = "mini"\nfile = "mini.txt"\ntitle = "Mini"\n')
    (tmp_path / "mini.txt").write_text("Introduction\nExosomes are small vesicles [1]. They carry RNA [2-3].\n")
    (doc,) = load_corpus(tmp_path)
    assert [s.title for s in doc.sections] == ["Introduction"]
    assert [s.refs for p in doc.passages for s in p.sentences] == [[1], [2, 3]]


def test_a_broken_corpus_folder_is_reported(tmp_path):
    with pytest.raises(CorpusError, match="documents.toml"):
        load_records(tmp_path)
    (tmp_path / "documents.toml").write_text('[[document]]\nid = "x"\nfile = "missing.txt"\ntitle = "X"\n')
    with pytest.raises(CorpusError, match="missing.txt"):
        load_records(tmp_path)


def test_parse_document_works_on_one_text():
    doc = parse_document({"id": "d", "file": "d.txt", "title": "T"}, "Results\nA finding [4].\n")
    assert doc.passages[0].refs == [4]
