"""Draw the integration's brand images (our own artwork): a meter dial with a bolt.

Run with `.venv/bin/python scripts/brand.py`; writes brand/icon.png (256 px), icon@2x.png,
logo.png and logo@2x.png under custom_components/octopus_home_mini/.
"""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).parents[1] / "custom_components" / "octopus_home_mini" / "brand"
PINK = (240, 36, 132, 255)
NAVY = (16, 0, 70, 255)
WHITE = (255, 255, 255, 255)


def icon(size: int) -> Image.Image:
    """A navy rounded square, a pink dial, and a white lightning bolt."""
    scale = size / 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=int(48 * scale), fill=NAVY)
    pad = int(36 * scale)
    draw.ellipse((pad, pad, size - pad, size - pad), outline=PINK, width=int(18 * scale))
    bolt = [(140, 52), (84, 138), (124, 138), (108, 206), (172, 114), (130, 114), (150, 52)]
    draw.polygon([(x * scale, y * scale) for x, y in bolt], fill=WHITE)
    return image


def main() -> None:
    """Write every image size Home Assistant's brand rules ask for."""
    OUT.mkdir(parents=True, exist_ok=True)
    icon(256).save(OUT / "icon.png", optimize=True)
    icon(512).save(OUT / "icon@2x.png", optimize=True)
    icon(256).save(OUT / "logo.png", optimize=True)
    icon(512).save(OUT / "logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
