"""Envelope windows: where the sender line and the recipient's address must sit on the sheet.

The layouts a letter can be printed for (DIN 5008 form A or B for DL envelopes, the standard US
#10 window), each window's position in millimetres on the unfolded A4 sheet, the clear space kept
inside it, and the fold and punch marks. `pdf.py` sets the letter to these measures.
"""

from dataclasses import dataclass
from enum import StrEnum


class Layout(StrEnum):
    din5008_b = "din5008_b"
    din5008_a = "din5008_a"
    us10 = "us10"


@dataclass(frozen=True, slots=True)
class Window:
    """An envelope window on the unfolded sheet, in millimetres from the page's top-left corner.

    Its first `return_zone` millimetres hold the sender's return address; the rest is the
    recipient zone.
    """

    left: float
    top: float
    width: float
    height: float
    return_zone: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def recipient_top(self) -> float:
        return self.top + self.return_zone


INCH = 25.4
# US #10 envelope, 4 1/8" x 9 1/2", with the industry-standard address window: 4 1/2" x 1 1/8",
# 7/8" from the left and 1/2" from the bottom edge, flap up (the stock spec US envelope makers
# list for #10 window envelopes, which QuickBooks- and Word-style templates assume). The sheet is
# A4 folded in thirds, so the front panel is the top 99 mm. As DIN 5008 does for DL envelopes
# (its field ends 15 mm above the 105 mm fold, the DL window 15 mm above the envelope's bottom),
# we take the fold as resting on the envelope's bottom edge. A 210 mm sheet can slide 31.3 mm
# sideways in a 241.3 mm envelope, so only the part of the window that shows the sheet in every
# position counts: it ends 105.2 mm from the sheet's left edge, much like DIN's 105 mm.
_US10_ENVELOPE_WIDTH = 9.5 * INCH
_US10_WINDOW_WIDTH = 4.5 * INCH
_US10_WINDOW_HEIGHT = 1.125 * INCH
_A4_THIRD = 297 / 3

WINDOWS: dict[Layout, Window] = {
    # DIN 5008: address field 85 x 45 mm at 20 mm from the left; 17.7 mm for the return address
    # (and postal notes), then 27.3 mm, six lines, for the recipient.
    Layout.din5008_b: Window(left=20, top=45, width=85, height=45, return_zone=17.7),
    Layout.din5008_a: Window(left=20, top=27, width=85, height=45, return_zone=17.7),
    Layout.us10: Window(
        left=0.875 * INCH,
        top=_A4_THIRD - 0.5 * INCH - _US10_WINDOW_HEIGHT,
        width=_US10_WINDOW_WIDTH - (_US10_ENVELOPE_WIDTH - 210),
        height=_US10_WINDOW_HEIGHT,
        return_zone=0,
    ),
}

# Clear space kept between the address and the window's edges. DIN 5008's zones already are
# the writable area; USPS placement rules for window envelopes ask for 1/8" on every side.
CLEARANCE: dict[Layout, float] = {
    Layout.din5008_b: 0,
    Layout.din5008_a: 0,
    Layout.us10: 0.125 * INCH,
}

# Fold marks (mm from the top): DIN 5008 form B folds at 105/210, form A at 87/192; a letter
# for a #10 envelope folds in equal thirds. The DIN punch mark halves the sheet.
FOLD_MARKS: dict[Layout, tuple[float, ...]] = {
    Layout.din5008_b: (105, 210),
    Layout.din5008_a: (87, 192),
    Layout.us10: (99, 198),
}
PUNCH_MARK = 148.5

MAX_RECIPIENT_LINES = 6
