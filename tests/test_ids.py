import pytest

from bot.ids import InvalidPaperId, arxiv_order, normalize_paper_id


@pytest.mark.parametrize(
    "text",
    [
        "2505.07787",
        "2505.07787v2",
        " arXiv:2505.07787 ",
        "https://arxiv.org/abs/2505.07787",
        "https://arxiv.org/abs/2505.07787v3",
        "arxiv.org/pdf/2505.07787",
        "https://arxiv.org/pdf/2505.07787v1.pdf",
        "https://arxiv.org/html/2505.07787v2",
        "https://huggingface.co/papers/2505.07787",
        "https://huggingface.co/papers/2505.07787#community",
        "hf.co/papers/2505.07787",
        "https://www.arxiv.org/abs/2505.07787?context=cs",
    ],
)
def test_every_spelling_of_a_paper_means_the_bare_id(text: str) -> None:
    assert normalize_paper_id(text) == "2505.07787"


def test_old_style_and_four_digit_ids() -> None:
    assert normalize_paper_id("https://arxiv.org/abs/hep-th/9901001v2") == "hep-th/9901001"
    assert normalize_paper_id("1409.0473") == "1409.0473"


@pytest.mark.parametrize(
    "text", ["", "hello", "2505.077", "2513.07787", "https://evil.example/2505.07787", "<@123>", "1 OR 1=1"]
)
def test_non_ids_are_rejected_with_a_message(text: str) -> None:
    with pytest.raises(InvalidPaperId, match="not an arXiv id"):
        normalize_paper_id(text)


def test_arxiv_order_sorts_by_submission_month_then_number() -> None:
    ids = ["1409.0473", "2312.99999", "2401.00001", "2505.07787", "2505.07788"]
    assert [arxiv_order(i) for i in ids] == sorted(arxiv_order(i) for i in ids)
    assert arxiv_order("2505.07787") == 20250507787
