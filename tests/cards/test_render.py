"""Tests for cards.printing and cards.text: the printed card as PNG sides and PDFs."""

from __future__ import annotations

import io
import random
import re
import zlib
from importlib import resources

import pytest
import zxingcpp
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageFilter

from cards.printing import (
    A4_MM,
    CARD_PX,
    CARDS_PER_SHEET,
    MIN_MODULE_PX,
    CardFace,
    CardImages,
    CardLayoutError,
    card_pdf,
    card_texts,
    module_px,
    render_back,
    render_card,
    render_front,
    sheet_layout,
    sheet_pdf,
)
from cards.printing.png import _adler32_combine, encode_png, static_rows
from cards.qr import QUIET_ZONE, QrError, make_qr
from cards.testing import reference_face
from cards.text import fit_text, font

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
VIETNAMESE = (
    "ẮẰẲẴẶ ắằẳẵặ ẤẦẨẪẬ ấầẩẫậ ỐỒỔỖỘ ốồổỗộ ỚỜỞỠỢ ớờởỡợ ỨỪỬỮỰ ưừứửữự ẾỀỂỄỆ ếềểễệ "
    "ÁÀẢÃẠ áàảãạ ÉÈẺẼẸ éèẻẽẹ ÍÌỈĨỊ íìỉĩị ÓÒỎÕỌ óòỏõọ ÚÙỦŨỤ úùủũụ ÝỲỶỸỴ ýỳỷỹỵ "
    "ĂÂÊÔƠƯ ăâêôơư Đđ Nguyễn Thị Kim Yến"
)


def uc1_text(length: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "UC1:" + "".join(rng.choice(BASE45) for _ in range(length - 4))


def make_face(**changes: object) -> CardFace:
    text = changes.pop("qr_text", None) or uc1_text(300)
    return reference_face(text, **changes)  # type: ignore[no-any-return]


LONG_FACE = make_face(
    name="Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Ngọc Bích Trâm Huyền Trang Lê Phạm " * 2,
    union_name="Công đoàn cơ sở Công ty Trách nhiệm hữu hạn Một thành viên Điện tử và Cơ khí "
    "Chính xác Quế Võ Khu công nghiệp Quế Võ mở rộng phường Phương Liễu thị xã Quế Võ",
    province_name="Thành phố Hồ Chí Minh và các vùng lân cận rất dài " * 3,
    issuer_name="Liên đoàn Lao động tỉnh Bắc Ninh, Ban Tổ chức, Phòng cấp thẻ đoàn viên " * 3,
    member_number="27-0451-0038217-" * 5,
    serial="SERIALWITHOUTSPACES" * 6,
    emergency="Nhóm máu O+ · Dị ứng: Penicillin, Aspirin, hải sản, phấn hoa · Tiểu đường " * 2,
    sex="Nữ (giới tính ghi dài để thử)",
)


def decode_one(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    text: str = results[0].text
    return text


def photo_like(image: Image.Image) -> Image.Image:
    """Half size, rotated 10 degrees on white, slightly blurred: a phone photo of the card."""
    w, h = image.size
    small = image.resize((w // 2, h // 2), Image.Resampling.LANCZOS)
    turned = small.rotate(10, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    return turned.filter(ImageFilter.GaussianBlur(1))


# --- size, PNG, QR --------------------------------------------------------------------------


def test_sides_are_id1_at_300_dpi() -> None:
    card = render_card(make_face())
    for side, png in ((card.front, card.front_png()), (card.back, card.back_png())):
        assert side.size == CARD_PX == (1011, 638)
        decoded = Image.open(io.BytesIO(png))
        assert decoded.size == CARD_PX
        assert decoded.info["dpi"] == pytest.approx((300, 300), abs=0.05)
        assert ImageChops.difference(decoded.convert("RGB"), side).getbbox() is None


@pytest.mark.parametrize("length", [300, 360])
def test_card_qr_decodes_from_the_png_and_a_photo_like_copy(length: int) -> None:
    text = uc1_text(length, seed=length)
    face = make_face(qr_text=text)
    front = Image.open(io.BytesIO(render_card(face).front_png())).convert("RGB")
    assert decode_one(front) == text
    assert decode_one(photo_like(front)) == text


def test_qr_is_drawn_pixel_exact_at_4_px_or_more_per_module() -> None:
    face = make_face()
    qr = make_qr(face.qr_text)
    scale = module_px(qr)
    assert scale >= MIN_MODULE_PX  # 4 px at 300 dpi = 0.339 mm >= 0.33 mm
    front = render_front(face, qr)
    side = (qr.size + 2 * QUIET_ZONE) * scale
    expected = qr.image(scale).convert("RGB")
    hits = [
        (x, y)
        for y in range(0, CARD_PX[1] - side + 1)
        for x in (CARD_PX[0] - 44 - qr.size * scale - QUIET_ZONE * scale,)
        if ImageChops.difference(front.crop((x, y, x + side, y + side)), expected).getbbox()
        is None
    ]
    assert len(hits) == 1


def test_module_size_shrinks_to_4_px_then_refuses() -> None:
    assert module_px(make_qr(uc1_text(300))) == 5
    assert module_px(make_qr(uc1_text(700))) == 4  # version 17
    too_big = make_qr(uc1_text(900))
    with pytest.raises(CardLayoutError, match="version"):
        module_px(too_big)
    with pytest.raises(CardLayoutError):
        render_front(make_face(qr_text=too_big.text), too_big)


def test_front_rejects_a_qr_for_another_text() -> None:
    with pytest.raises(ValueError, match="does not encode"):
        render_front(make_face(), make_qr("UC1:OTHER"))


def test_front_rejects_text_outside_the_qr_alphabet() -> None:
    with pytest.raises(QrError):
        render_front(make_face(qr_text="uc1:lower"))


# --- text: glyphs and fitting ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cmaps() -> dict[str, set[int]]:
    out = {}
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        data = resources.files("cards").joinpath("fonts", name).read_bytes()
        out[name] = set(TTFont(io.BytesIO(data)).getBestCmap())
    return out


@pytest.mark.parametrize("face", [make_face(), LONG_FACE], ids=["sample", "long"])
def test_every_drawn_character_is_in_both_fonts(
    face: CardFace, cmaps: dict[str, set[int]]
) -> None:
    chars = {c for text in card_texts(face) for c in text if not c.isspace()}
    for name, cmap in cmaps.items():
        missing = sorted(c for c in chars if ord(c) not in cmap)
        assert not missing, f"{name} lacks {missing}"


def test_all_vietnamese_letters_have_their_own_inked_glyph(cmaps: dict[str, set[int]]) -> None:
    for weight in ("regular", "bold"):
        face = font(40, weight)  # type: ignore[arg-type]
        notdef = bytes(face.getmask("\ue000"))  # a private-use code point: the .notdef box
        for char in set(VIETNAMESE) - {" "}:
            assert ord(char) in cmaps["DejaVuSans.ttf"]
            mask = face.getmask(char)
            assert mask.getbbox() is not None, f"{char!r} has no ink"
            assert bytes(mask) != notdef, f"{char!r} renders as .notdef"


def test_decomposed_input_is_normalised_before_drawing() -> None:
    composed = make_face()
    decomposed = make_face(name="Nguye\u0302\u0303n Thi\u0323 Kim Ye\u0302\u0301n")
    a, b = render_front(composed), render_front(decomposed)
    assert ImageChops.difference(a, b).getbbox() is None


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyÀẢẠỐỜỰ WWW-", min_size=1, max_size=300),
    width=st.integers(min_value=40, max_value=600),
    max_lines=st.integers(min_value=1, max_value=3),
)
def test_fit_text_never_exceeds_width_or_lines(text: str, width: int, max_lines: int) -> None:
    fitted = fit_text(text, (34, 32, 30), width, max_lines)
    assert 1 <= len(fitted.lines) <= max_lines or not text.strip()
    for line in fitted.lines:
        assert fitted.face.getlength(line) <= width
    if not fitted.truncated:
        assert " ".join(fitted.lines).replace(" ", "") == "".join(text.split())


def test_long_texts_shrink_and_wrap_inside_their_boxes() -> None:
    # Pixels outside the text boxes must be what a short card has there: nothing overflowed.
    short = make_face(name="A", union_name="B", province_name="C", emergency=None, sex=None)
    for render in (render_front, lambda f, qr=None: render_back(f)):
        ref, long = render(short), render(LONG_FACE)
        w, h = CARD_PX
        if render is render_front:
            qr_left = w - 44 - make_qr(short.qr_text).size * 5
            regions = [
                (0, 196, 40, h),  # left margin (glyphs may overhang their origin by a pixel)
                (qr_left - 25, 196, qr_left - 20, h),  # gap between text column and QR
                (0, 608, qr_left - 20, h),  # below the text column
            ]
        else:
            regions = [(0, 88, 40, h), (w - 40, 88, w, h)]
        for box in regions:
            diff = ImageChops.difference(ref.crop(box), long.crop(box)).getbbox()
            assert diff is None, f"text spilled into {box}"
    assert decode_one(render_front(LONG_FACE)) == LONG_FACE.qr_text


def test_emergency_line_only_when_given() -> None:
    with_line, without = render_front(make_face()), render_front(make_face(emergency=None))
    pink = (253, 236, 238)
    assert pink in {c for _, c in with_line.getcolors(1 << 20) or []}
    assert pink not in {c for _, c in without.getcolors(1 << 20) or []}


# --- PNG writer -----------------------------------------------------------------------------


def test_encode_png_round_trips_and_checks_mode() -> None:
    img = Image.effect_noise((97, 31), 80).convert("RGB")
    png = encode_png(img, dpi=150)
    back = Image.open(io.BytesIO(png))
    assert back.mode == "RGB" and back.info["dpi"] == pytest.approx((150, 150), abs=0.05)
    assert ImageChops.difference(back, img).getbbox() is None
    with pytest.raises(ValueError, match="RGB"):
        encode_png(img.convert("L"))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=70000))
def test_adler32_combine_matches_zlib(a: bytes, b: bytes) -> None:
    assert _adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


@pytest.mark.parametrize(("top", "bottom"), [(0, 0), (0, 31), (5, 9), (31, 31), (10, 31)])
def test_static_rows_are_spliced_losslessly(top: int, bottom: int) -> None:
    template = Image.effect_noise((97, 31), 80).convert("RGB")
    image = template.copy()
    image.paste((255, 0, 0), (0, top, 97, bottom))
    png = encode_png(image, static=static_rows(template, top, bottom))
    decoded = Image.open(io.BytesIO(png)).convert("RGB")
    assert ImageChops.difference(decoded, image).getbbox() is None


def test_static_rows_reject_mismatched_images() -> None:
    template = Image.new("RGB", (10, 10))
    with pytest.raises(ValueError):
        static_rows(template, 5, 11)
    with pytest.raises(ValueError):
        encode_png(Image.new("RGB", (10, 9)), static=static_rows(template, 2, 3))


@pytest.mark.parametrize(
    "face",
    [make_face(), LONG_FACE, make_face(issuer_name="Ban Tổ chức Liên đoàn Lao động tỉnh " * 2)],
    ids=["sample", "long", "two-line-issuer"],
)
def test_back_png_with_reused_rows_is_the_rendered_back(face: CardFace) -> None:
    card = render_card(face)
    decoded = Image.open(io.BytesIO(card.back_png())).convert("RGB")
    assert ImageChops.difference(decoded, card.back).getbbox() is None
    assert ImageChops.difference(card.back, render_back(face)).getbbox() is None


# --- PDFs -----------------------------------------------------------------------------------

_MM = 72 / 25.4


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    assert pdf.startswith(b"%PDF-")
    count = len(re.findall(rb"/Type /Page\b", pdf))
    assert re.findall(rb"/Count (\d+)", pdf) == [str(count).encode()]
    # Pages of one size inherit a single MediaBox from the page tree.
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    if len(boxes) == 1:
        boxes *= count
    assert len(boxes) == count
    return [(float(w) / _MM, float(h) / _MM) for w, h in boxes]


def test_card_pdf_has_two_pages_at_the_physical_size_drawn_as_vectors() -> None:
    pdf = card_pdf(make_face())
    pages = pdf_pages(pdf)
    assert len(pages) == 2
    for w, h in pages:
        assert w == pytest.approx(85.60, abs=0.01) and h == pytest.approx(53.98, abs=0.01)
    assert b"/Subtype /Image" not in pdf and b"/FlateDecode" in pdf
    assert b"/FontFile2" in pdf  # the DejaVu faces, embedded (subset)


def test_card_images_pdf_is_the_card_pdf() -> None:
    face = make_face()
    card = render_card(face)
    assert card.face == face and card.qr == make_qr(face.qr_text)
    assert pdf_pages(card.pdf()) == pdf_pages(card_pdf(face, card.qr))


@pytest.mark.parametrize(("count", "pages"), [(1, 2), (10, 2), (11, 4), (25, 6)])
def test_sheet_pdf_pages_are_a4_fronts_then_backs(count: int, pages: int) -> None:
    sizes = pdf_pages(sheet_pdf([make_face()] * count))
    assert len(sizes) == pages
    for w, h in sizes:
        assert (w, h) == (pytest.approx(A4_MM[0], abs=0.01), pytest.approx(A4_MM[1], abs=0.01))


def test_sheet_accepts_faces_and_rejects_nothing() -> None:
    assert len(pdf_pages(sheet_pdf([make_face()]))) == 2
    with pytest.raises(ValueError):
        sheet_pdf([])


def test_sheet_layout_fits_a4_without_overlap_and_mirrors_backs() -> None:
    fronts, backs = sheet_layout(), sheet_layout(back=True)
    assert len(fronts) == CARDS_PER_SHEET == 10
    w, h = 85.60, 53.98
    for s in fronts:
        assert 5 <= s.x and s.x + w <= A4_MM[0] - 5 and 5 <= s.y and s.y + h <= A4_MM[1] - 5
    for a in fronts:
        for b in fronts:
            if a.index < b.index:
                assert a.x + w <= b.x or b.x + w <= a.x or a.y + h <= b.y or b.y + h <= a.y
    for f, b in zip(fronts, backs, strict=True):
        # Flipped on the long edge, a back at x lands behind the front at A4 width - x - w.
        assert b.x == pytest.approx(A4_MM[0] - f.x - w) and b.y == f.y


def test_card_images_is_a_value() -> None:
    card = render_card(make_face())
    assert isinstance(card, CardImages)
    with pytest.raises(AttributeError):
        card.front = card.back  # type: ignore[misc]


