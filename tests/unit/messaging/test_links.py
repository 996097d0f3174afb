from winback.messaging.links import track_links

BASE = "https://t.shop.example"


def click(url: str) -> tuple[str, str]:
    key = f"k{len(url)}"
    return key, f"{BASE}/c/{key}"


def test_html_and_text_links_go_through_the_service_and_are_recorded() -> None:
    html = ('<html><body><a class="b" href="https://shop.example/p?a=1&amp;b=2">Shop</a>'
            '<a href="mailto:x@shop.example">Mail</a><a href=\'http://shop.example/x\'>x</a></body></html>')
    text = "Shop: https://shop.example/p?a=1&b=2.\nOld: http://shop.example/x\n店铺：https://shop.example/zh。"
    out = track_links(html, text, click=click, pixel=None, keep=(BASE + "/",))
    assert dict(out.links) == {"k30": "https://shop.example/p?a=1&b=2", "k21": "http://shop.example/x",
                               "k23": "https://shop.example/zh"}
    assert 'href="https://t.shop.example/c/k30"' in out.html and "href='https://t.shop.example/c/k21'" in out.html
    assert 'href="mailto:x@shop.example"' in out.html
    assert "Shop: https://t.shop.example/c/k30.\n" in out.text  # the full stop stays outside the link
    assert "店铺：https://t.shop.example/c/k23。" in out.text


def test_service_links_and_disabled_tracking_are_left_alone() -> None:
    html = f'<body><a href="{BASE}/u/TOKEN">Unsubscribe</a><a href="https://shop.example/">Shop</a></body>'
    text = f"Unsubscribe: {BASE}/u/TOKEN"
    kept = track_links(html, text, click=click, pixel=None, keep=(BASE + "/",))
    assert f'href="{BASE}/u/TOKEN"' in kept.html and kept.text == text
    assert dict(kept.links) == {"k21": "https://shop.example/"}
    off = track_links(html, text, click=None, pixel=None, keep=(BASE + "/",))
    assert (off.html, off.text, off.links) == (html, text, ())


def test_pixel_goes_before_the_last_body_end_with_its_url_escaped() -> None:
    out = track_links("<html><BODY><p>x</p></Body></html>", "x", click=None, pixel=f"{BASE}/o/a&b.gif",
                      keep=())
    assert out.html == (f'<html><BODY><p>x</p><img src="{BASE}/o/a&amp;b.gif" width="1" height="1" alt="" '
                        'style="display:block;width:1px;height:1px;border:0"></Body></html>')
    assert track_links("<p>x</p>", "x", click=None, pixel="P", keep=()).html.startswith("<p>x</p><img src=\"P\"")


def test_the_same_url_twice_is_one_link() -> None:
    html = '<a href="https://s.example/a">1</a><a href="https://s.example/a">2</a>'
    calls: list[str] = []

    def counting(url: str) -> tuple[str, str]:
        calls.append(url)
        return click(url)

    out = track_links(html, "https://s.example/a", click=counting, pixel=None, keep=())
    assert calls == ["https://s.example/a"] and len(out.links) == 1
