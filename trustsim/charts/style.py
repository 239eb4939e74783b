"""The deck style: a packaged .mplstyle applied in a context, colours, and byte-stable saving.

Nothing here touches the user's global rcParams: `chart_style()` wraps
`matplotlib.rc_context`, so settings are restored when the block ends.
"""

from __future__ import annotations

import contextlib
import functools
import re
import textwrap
import threading
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

# Okabe & Ito (2008), colour-blind safe. One highlight against grey carries the message.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
HIGHLIGHT = OKABE_ITO["blue"]
# Vermillion means one thing on every slide: where buyers are lost or a result is worse.
ALERT = OKABE_ITO["vermillion"]
# Each scenario keeps one colour on every slide, by its position in the results: the base
# in dark grey, the others in Okabe-Ito hues (vermillion is kept for ALERT).
SCENARIO_COLORS = (
    "#4D4D4D",
    OKABE_ITO["blue"],
    OKABE_ITO["green"],
    OKABE_ITO["purple"],
    OKABE_ITO["orange"],
    OKABE_ITO["sky"],
    "#8C6D31",
    "#000000",
)
# One family for slide text and charts. Slides ask for Calibri: every PowerPoint has it,
# and LibreOffice draws Carlito in its place, a free font with Calibri's letter widths
# and look. Pictures are drawn where the deck is built, where Calibri is rarely
# installed, so trustsim ships Carlito (SIL Open Font License, fonts/OFL.txt) and draws
# every chart in it; glyphs it lacks (✓, ★) fall back to DejaVu Sans, which matplotlib
# ships.
DECK_FONT = "Calibri"
CHART_FONT = "Carlito"
FALLBACK_FONT = "DejaVu Sans"
# Labels may be in any alphabet. Fonts for other scripts are used where the machine has
# them, after the two above (none is shipped: one CJK font alone is about 20 MB); a chart
# with characters no installed font draws says so once (`save_figure`).
SCRIPT_FONTS = (
    "Noto Sans CJK JP", "Noto Sans CJK SC", "Source Han Sans", "Droid Sans Fallback",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "Yu Gothic", "Hiragino Sans", "Malgun Gothic",
    "Apple SD Gothic Neo", "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari",
    "Noto Sans Thai", "Arial Unicode MS",
)  # fmt: skip
GREY = "#9A9A9A"
LIGHT_GREY = "#D9D9D9"
TEXT = "#333333"

# Charts are drawn at the size they are placed on a 13.333 x 7.5 in slide, so point
# sizes here are point sizes in the room.
FIGSIZE = (9.6, 5.4)
MIN_FONT_PT = 14
TITLE_WRAP = 62
NOTE_WRAP = 88
FORMATS = ("png", "svg", "pdf")

# Metadata that would differ between runs (dates, versions) is left out, so the same
# input gives the same bytes.
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}


def style_path() -> Path:
    """The packaged trustsim.mplstyle file."""
    return Path(str(resources.files("trustsim.charts").joinpath("trustsim.mplstyle")))


@contextlib.contextmanager
def chart_style() -> Iterator[None]:
    """Apply the trustsim style for the duration of a block; global settings are restored.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> with chart_style():
        ...     fig, ax = plt.subplots()
        >>> fig.get_size_inches().tolist()
        [9.6, 5.4]
    """
    import matplotlib as mpl

    with mpl.rc_context(fname=str(style_path()), rc={"font.family": chart_fonts()}):
        yield


def chart_fonts() -> list[str]:
    """The chart font families, first choice first: the packaged Carlito (registered
    with matplotlib on first use), DejaVu Sans for the glyphs Carlito lacks, then the
    installed fonts of `SCRIPT_FONTS` for other scripts."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    if CHART_FONT not in installed:
        for path in sorted(Path(str(resources.files("trustsim.charts"))).glob("fonts/*.ttf")):
            font_manager.fontManager.addfont(str(path))
    return [CHART_FONT, FALLBACK_FONT, *(name for name in SCRIPT_FONTS if name in installed)]


def scenario_color(position: int) -> str:
    """The colour of the scenario at `position` in the results (0 = the base)."""
    return SCENARIO_COLORS[position % len(SCENARIO_COLORS)]


def metadata(fmt: str) -> dict:
    """Savefig metadata for `fmt` without dates or tool versions."""
    return dict(_METADATA.get(fmt, {}))


def save_figure(fig, path: str | Path, fmt: str | None = None) -> Path:
    """Save `fig` to `path` atomically, with byte-stable metadata; the format follows
    the suffix (`render` draws it).

    Example:
        >>> import matplotlib.pyplot as plt
        >>> with chart_style():
        ...     fig, _ = plt.subplots()
        ...     out = save_figure(fig, "/tmp/example.svg")
        >>> out.suffix
        '.svg'
    """
    from trustsim.output import atomic_path

    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    with atomic_path(path) as tmp:
        render(fig, tmp, fmt, metadata=metadata(fmt))
    return path


_DRAWING = threading.RLock()


def render(fig, target, fmt: str, **options) -> None:
    """`fig.savefig(target, format=fmt, **options)` in the chart style, into a file path
    or a binary buffer.

    A character none of the chart's fonts draws (a label in another script) gets a
    second chance: the machine's fonts of `SCRIPT_FONTS` are looked up (once per
    process: matplotlib's font list may predate them) and the chart is drawn again with
    them. Characters still missing are said once, in one warning, instead of one
    matplotlib warning per character.
    """
    # One drawing at a time: the explorer serves several sessions from threads, and the
    # warning filters and rc settings a drawing sets for itself are process-wide.
    with _DRAWING:
        missing = _draw(fig, target, fmt, options)
        if missing and _add_script_fonts():
            fonts = chart_fonts()
            for text in fig.findobj(lambda artist: hasattr(artist, "set_fontfamily")):
                text.set_fontfamily(fonts)
            if hasattr(target, "truncate"):  # a buffer: start it again
                target.seek(0)
                target.truncate()
            missing = _draw(fig, target, fmt, options)
    if missing:
        warnings.warn(
            f"trustsim: no installed font draws {missing!r}, drawn as boxes in the chart. "
            "Install a font for that script (e.g. fonts-noto-cjk for Chinese, Japanese "
            "and Korean) and draw it again.",
            stacklevel=3,
        )


def _draw(fig, target, fmt: str, options: dict) -> str:
    """Draw once; returns the characters no font drew (matplotlib warns once per
    character and draws each as a box); other warnings pass on as they came."""
    import matplotlib as mpl

    with (
        mpl.rc_context(fname=str(style_path()), rc={"font.family": chart_fonts()}),
        warnings.catch_warnings(record=True) as caught,
        _quiet_font_lookup(),
    ):
        warnings.simplefilter("always")
        fig.savefig(target, format=fmt, **options)
    missing = []
    for record in caught:
        glyph = re.match(r"Glyph (\d+) .* missing from font", str(record.message))
        if glyph:
            missing.append(chr(int(glyph.group(1))))
        else:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    return "".join(dict.fromkeys(missing))


@contextlib.contextmanager
def _quiet_font_lookup() -> Iterator[None]:
    """Without matplotlib's log line for a script font that has no bold ("now using
    400"): the regular weight is what such fonts offer, not a fault to report."""
    import logging

    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.cache
def _add_script_fonts() -> bool:
    """Register the machine's fonts named in `SCRIPT_FONTS` with matplotlib; whether any
    was new to it."""
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    added = False
    for file in font_manager.findSystemFonts():
        try:
            name = font_manager.get_font(file).family_name
        except (OSError, RuntimeError):
            continue  # a file FreeType cannot read
        if name in SCRIPT_FONTS and name not in known:
            font_manager.fontManager.addfont(file)
            known.add(name)
            added = True
    return added


def wrap_title(title: str, width: int = TITLE_WRAP) -> str:
    """Break a long action title over lines so it fits the figure width."""
    return "\n".join(textwrap.wrap(title, width)) if len(title) > width else title
