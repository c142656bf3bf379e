"""Folders as users have them: transparency, grey and colour, 16-bit PNGs, sizes and
aspect ratios chosen or handled by policy (tfbegan.data.decode, survey, pipeline)."""

import logging

import numpy as np
import pytest
from PIL import Image

from tfbegan import imaging
from tfbegan.data import survey
from tfbegan.data.config import DataConfig
from tfbegan.data.decode import read_pixels
from tfbegan.data.pipeline import fixed_real_batch, make_dataset, resolve
from tfbegan.training.config import TrainConfig
from tfbegan.training.run_config import config_differences

WHITE, BLACK, BLUE = (255, 255, 255), (0, 0, 0), (0, 0, 255)


def _flat(mode, value, size=(4, 4)):
    return Image.new(mode, size, value)


def _palette_with_transparency():
    """2x1 palette PNG: pixel 0 red (opaque), pixel 1 blue (the tRNS entry)."""
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.putpixel((1, 0), 1)
    return im


def _save(folder, name, im, **kwargs):
    folder.mkdir(parents=True, exist_ok=True)
    im.save(folder / name, **kwargs)
    return folder / name


def _all(config, n):
    batches = make_dataset(config, n, shuffle=False, repeat=False)
    return np.concatenate([imaging.to_uint8(b.numpy()) for b in batches])


# ------------------------------------------------------------------ DataConfig


def test_background_resize_channels_are_validated():
    assert DataConfig(background="#FF8000").background_rgb == (255, 128, 0)
    assert DataConfig(background="gray").background_rgb == (128, 128, 128)
    assert DataConfig(background="black").background_rgb == BLACK
    for bad, fragment in [(dict(background="purple"), "background='purple'"),
                          (dict(background="#12345"), "background='#12345'"),
                          (dict(channels=2), "channels=2"),
                          (dict(channels=True), "channels=True"),
                          (dict(dataset="folder:x", resize="fit"), "resize='fit'"),
                          (dict(dataset="folder:x", resize="pad", crop="celeba"),
                           "crop='celeba'"),
                          (dict(resize="stretch"), "resize='stretch'")]:  # mnist5k
        with pytest.raises(ValueError, match=fragment):
            DataConfig(**bad)


# --------------------------------------------------------------------- decode


@pytest.mark.parametrize("background, expected", [
    # 200 * 128/255 + bg * 127/255, rounded: 100.39 + 127.00 = 227.39 -> 227 on white.
    (WHITE, (227, 127, 127)),
    (BLACK, (100, 0, 0)),
    (BLUE, (100, 0, 127)),
])
def test_rgba_is_composited_with_straight_alpha(tmp_path, background, expected):
    pixels = np.array([[[200, 0, 0, 128], [10, 20, 30, 0], [10, 20, 30, 255]]], np.uint8)
    path = _save(tmp_path, "a.png", Image.fromarray(pixels, "RGBA"))
    out = read_pixels(path, 3, background)
    assert out.shape == (1, 3, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == expected
    assert tuple(out[0, 1]) == background          # fully transparent
    assert tuple(out[0, 2]) == (10, 20, 30)         # opaque


def test_la_palette_and_grey_trns_transparency(tmp_path):
    # LA grey 100 at alpha 51 (0.2) on white: 100 * 0.2 + 255 * 0.8 = 224.
    la = _save(tmp_path, "la.png", _flat("LA", (100, 51), (2, 2)))
    assert np.all(read_pixels(la, 3, WHITE) == 224)
    assert np.all(read_pixels(la, 1, WHITE) == 224)
    assert np.all(read_pixels(la, 1, BLACK) == 20)
    pal = _save(tmp_path, "p.png", _palette_with_transparency(), transparency=1)
    np.testing.assert_array_equal(read_pixels(pal, 3, WHITE), [[[255, 0, 0], WHITE]])
    gif = _save(tmp_path, "p.gif", _palette_with_transparency(), transparency=1)
    np.testing.assert_array_equal(read_pixels(gif, 3, BLACK), [[[255, 0, 0], BLACK]])
    grey = _save(tmp_path, "l.png", Image.fromarray(np.array([[10, 20]], np.uint8)),
                 transparency=20)
    np.testing.assert_array_equal(read_pixels(grey, 1, WHITE)[..., 0], [[10, 255]])


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    wide = np.array([[0, 1000, 32768, 65535]], np.uint16)
    path = _save(tmp_path, "16.png", Image.fromarray(wide))  # PIL mode I;16
    assert Image.open(path).mode.startswith("I")
    # round(v * 255 / 65535): 3.89 -> 4, 127.502 -> 128 (PIL's convert("L") gives 255).
    np.testing.assert_array_equal(read_pixels(path, 1)[..., 0], [[0, 4, 128, 255]])
    np.testing.assert_array_equal(read_pixels(path, 3)[0, :, 1], [0, 4, 128, 255])


def test_grey_and_colour_convert_both_ways(tmp_path):
    rgb = _save(tmp_path, "rgb.png", _flat("RGB", (200, 0, 0), (1, 1)))
    assert read_pixels(rgb, 1).tolist() == [[[60]]]  # 0.299 * 200 = 59.8, as PIL "L"
    grey = _save(tmp_path, "l.png", _flat("L", 51, (1, 1)))
    assert read_pixels(grey, 3).tolist() == [[[51, 51, 51]]]


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        read_pixels(bad)


# -------------------------------------------------------------------- folders


@pytest.fixture
def mixed_folder(tmp_path):
    """Flat 8x8 images of every mode, one unreadable file; sorted names a..e."""
    root = tmp_path / "mixed"
    _save(root, "a_rgba.png", _flat("RGBA", (200, 0, 0, 128), (8, 8)))
    _save(root, "b_grey.png", _flat("L", 51, (8, 8)))
    _save(root, "c_16bit.png", Image.fromarray(np.full((8, 8), 32768, np.uint16)))
    _save(root, "d_rgb.png", _flat("RGB", (10, 20, 30), (8, 8)))
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255])
    _save(root, "e_palette.png", pal, transparency=1)
    (root / "f_broken.png").write_bytes(b"garbage")
    return root


@pytest.mark.parametrize("cache_limit_mb", [1024, 0], ids=["in_memory", "streamed"])
def test_mixed_folder_colour_run(mixed_folder, cache_limit_mb, caplog):
    config = DataConfig(f"folder:{mixed_folder}", image_size=8, channels=3,
                        cache_limit_mb=cache_limit_mb, background="black")
    with caplog.at_level(logging.WARNING, logger="tfbegan.data.pipeline"):
        images = _all(config, 1)
    assert "f_broken.png" in caplog.text
    assert images.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(images[:, 0, 0], [(100, 0, 0), (51, 51, 51),
                                                    (128, 128, 128), (10, 20, 30), BLACK])
    assert all(len(np.unique(im.reshape(-1, 3), axis=0)) == 1 for im in images)
    real = imaging.to_uint8(fixed_real_batch(config, num=5))
    np.testing.assert_array_equal(np.sort(real[:, 0, 0, 0]), np.sort(images[:, 0, 0, 0]))


def test_mixed_folder_grey_run(mixed_folder):
    config = DataConfig(f"folder:{mixed_folder}", image_size=8, channels=1)
    images = _all(config, 1)
    assert images.shape == (5, 8, 8, 1)
    # RGBA on white -> (227, 127, 127) -> luma 0.299*227 + 0.587*127 + 0.114*127 = 157.3;
    # RGB (10, 20, 30) -> 2.99 + 11.74 + 3.42 = 18.15; the transparent palette pixel -> white.
    np.testing.assert_array_equal(images[:, 0, 0, 0], [157, 51, 128, 18, 255])


# ---------------------------------------------------------------- inference


def test_size_rule():
    assert [survey.size_for_side(s) for s in (3, 8, 15, 16, 255, 256, 5000)] == \
        [8, 8, 8, 16, 128, 256, 256]
    assert survey.kept_side(30, 20) == 20 and survey.kept_side(30, 20, "pad") == 30
    assert survey.kept_side(178, 218, "crop", "celeba") == 128
    assert survey.kept_side(30, 20, "stretch") == 20


def test_channels_and_size_from_the_data_in_one_line(tmp_path, caplog):
    grey = tmp_path / "grey"
    for i, (w, h) in enumerate([(30, 20), (40, 24), (33, 50)]):  # shorter: 20, 24, 33
        _save(grey, f"{i}.png", _flat("L", 9 * i, (w, h)))
    config = DataConfig(f"folder:{grey}", image_size=None, channels=None)
    with caplog.at_level(logging.INFO, logger="tfbegan.data.pipeline"):
        chosen = resolve(config)
        assert resolve(config) is chosen  # memoised: one survey, one line
    assert (chosen.image_size, chosen.channels) == (16, 1)  # median 24 -> 16
    lines = [r.getMessage() for r in caplog.records if "training at" in r.getMessage()]
    assert lines == [f"folder {grey}: 3 images, grey, sizes 30 x 20 to 33 x 50 -> "
                     f"training at 16 px, 1 channel (pass --image_size/--channels to "
                     f"override)"]
    assert _all(chosen, 3).shape == (3, 16, 16, 1)
    _save(grey, "z.png", _flat("RGB", (1, 2, 3), (64, 64)))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tfbegan.data.pipeline"):
        mixed = resolve(config.replace(image_size=8))
    assert (mixed.image_size, mixed.channels) == (8, 3)
    assert "grey and colour (1 of 4 colour)" in caplog.text and "8 px (given)" in caplog.text


def test_mnist5k_and_explicit_values_are_kept():
    assert resolve(DataConfig()) == DataConfig(channels=1)  # 32 px, 1 channel
    assert resolve(DataConfig(image_size=None)).image_size == 32
    given = DataConfig("folder:/not/listed", image_size=8, channels=3)
    assert resolve(given) is given


# -------------------------------------------------------------- resize policy


def _stripes():
    """4 high x 8 wide: red | green (4 columns) | blue."""
    image = np.zeros((4, 8, 3), np.uint8)
    image[:, :2], image[:, 2:6], image[:, 6:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    return image


def test_resize_policies():
    crop = imaging.square_uint8(_stripes(), 4, "crop").numpy()
    assert np.all(crop == (0, 255, 0))
    pad = imaging.square_uint8(_stripes(), 8, "pad", background=(9, 8, 7)).numpy()
    assert np.all(pad[:2] == (9, 8, 7)) and np.all(pad[6:] == (9, 8, 7))
    np.testing.assert_array_equal(pad[2:6], _stripes())
    stretch = imaging.square_uint8(_stripes(), 8, "stretch").numpy()
    assert stretch.shape == (8, 8, 3)
    assert np.all(stretch[:, 0] == (255, 0, 0)) and np.all(stretch[:, -1] == (0, 0, 255))


def test_pad_policy_in_a_grey_folder_run(tmp_path):
    root = tmp_path / "wide"
    _save(root, "w.png", Image.fromarray(_stripes()))
    config = DataConfig(f"folder:{root}", image_size=8, channels=1, resize="pad",
                        background="#ff0000")
    image = _all(config, 1)[0, ..., 0]
    assert np.all(image[:2] == 76) and np.all(image[6:] == 76)  # luma of red: 76.2
    np.testing.assert_array_equal(image[2, [0, 3, 7]], [76, 150, 29])


# -------------------------------------------------------------------- resume


def test_old_config_json_without_the_new_data_fields_still_resumes():
    config = TrainConfig(data=DataConfig(channels=1))
    from tfbegan.training.run_config import config_to_dict

    old = config_to_dict(config)
    for name in ("channels", "resize", "background"):
        del old["data"][name]
    assert config_differences(old, config) == []
    old["data"]["image_size"] = 64
    assert any("image_size" in d for d in config_differences(old, config))
