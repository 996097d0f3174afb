"""Churn reasons from text: lexicon rules, the trainable model, per-customer aggregation and the DataFrame contract."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from winback.domain.errors import UserError
from winback.scoring.reasons import (
    LABELS,
    ReasonClassifier,
    RuleClassifier,
    TextModel,
    TextReason,
    aggregate,
    label_customers,
)

NOW = datetime(2026, 9, 1, tzinfo=UTC)

# Hand-written, the way customers answer exit surveys and write tickets: short, misspelt, shouting, rambling.
HELD_OUT: dict[str, tuple[str, ...]] = {
    "price": (
        "too pricey", "Way too expensive for what you get.", "prices went up AGAIN, no thanks",
        "cant afford it right now, money's tight", "The subscription is not worth $30 a month",
        "Honestly the monthly fee is just too much for me", "shipping costs are insane, an extra $12 on every order",
        "expensve", "I was paying more and more each renewal. Not sustainable on my budget.",
        "overpriced compared to what it used to be", "Need to cut costs this year",
        "your prices doubled since I joined!!", "It's a luxury I can't justify anymore",
        "贵", "太贵了", "价格涨了好几次，受不了", "会员费一年比一年高", "不值这个价", "最近手头紧，先不续了",
        "运费太高了，每次都要加十几块", "性价比太低", "续费价格比第一年贵了一倍", "预算有限，只能先停掉",
        "东西还行就是太贵", "价格有点离谱", "学生党消费不起",
        # A price comparison is a price reason (see the module docstring).
        "Found a cheaper alternative", "got a better deal elsewhere", "Costco has it for half the price",
        "其他平台更便宜", "拼多多上同款便宜一半", "隔壁家的会员更划算",
    ),
    "missing_feature": (
        "No dark mode in 2025?? seriously", "doesn't sync with google calendar",
        "I needed an export to Excel and you don't have it", "lacks basic features like recurring tasks",
        "Waited a year for the promised offline mode. Still nothing.", "No Android app",
        "The app can't do multi-currency, which I need for my business", "Missing integrations with Shopify and Xero",
        "Would be nice if it supported more than one user", "too basic for our team now",
        "I need bulk editing and there's no way to do it", "Your tool doesn't have the reporting my accountant needs",
        "Feature requests ignored for 2 years",
        "没有夜间模式", "不支持导出PDF", "希望增加多人协作功能，现在只能一个人用", "功能太少了", "缺少和微信的对接",
        "不能批量修改，太麻烦", "没有安卓版", "数据没法同步到电脑上", "一直说要上线的功能到现在还没有",
        "无法自定义报表", "功能跟不上我们公司的需求了", "找不到我需要的功能",
    ),
    "service": (
        "Support never answered my emails", "rude customer service agent hung up on me", "Delivery took 3 weeks!!",
        "My parcel got lost and nobody helped", "Waited 45 minutes on hold", "still waiting for my refund",
        "Was charged twice and it took a month to sort out", "courier left the box in the rain, nobody cared",
        "terrible costumer service", "they kept sending the wrong size and the returns process is a nightmare",
        "your chatbot is useless, i want a human", "Orders always arrive late",
        "Impossible to cancel, had to call 4 times",
        "客服态度太差", "快递太慢了，等了两个星期", "退款到现在都没到账", "打了好几次电话都没人接",
        "发错货了，换货又拖了半个月", "售后推来推去，没人负责", "物流信息一直不更新", "投诉了三次都没处理",
        "客服只会复制粘贴", "重复扣款，找客服也没用", "包裹丢了，商家不管", "在线客服永远是机器人回复",
    ),
    "product_quality": (
        "Broke after two weeks", "the app crashes every time I open it",
        "Quality has gone downhill, the last two pairs fell apart", "cheap material, ripped on first wash",
        "Food arrived stale and one bag was moldy", "It just doesn't work half the time",
        "buggy mess since the last update", "Shrunk in the wash. Poor quality", "battery dies in an hour",
        "not as described, looks nothing like the photos", "Lost all my data after the sync",
        "keeps freezing on my phone", "the blender leaked from day one",
        "质量太差了", "用了两次就坏了", "衣服洗一次就起球", "App老是闪退", "收到的东西有异味", "做工粗糙，线头到处都是",
        "零食过期了", "很卡，打开要等半天", "鞋底开胶了", "和图片完全不一样，质量很差", "电池不耐用", "经常死机",
    ),
    "competitor": (
        "Switched to Spotify", "Going with another provider that offers more storage", "Moved to a competitor",
        "The other store has better prices and faster shipping", "we now use Notion for everything",
        "amazon delivers next day, you don't", "my gym partner got me onto a different app",
        "Trying out a rival service", "signed up with your competitor, they're doing it better",
        "I use the free version of another tool now", "my friend got me using their app instead",
        "换了别家", "改用京东了，送货快", "朋友推荐了另一家，体验更好", "已经转到竞品了", "公司统一改用飞书",
        "找到更好用的替代品", "别的app功能更全还免费", "去淘宝买了", "被同行挖走了", "我现在用另一款了",
        "转投别的平台了", "同事都在用别的工具，我也跟着换了",
    ),
    "no_longer_needed": (
        "don't need it anymore", "kids are grown, no more need for the baby box", "Project ended", "I barely use it",
        "retired, so no use for a business account", "Not using it enough to justify keeping it",
        "stopped cooking at home", "no longer needed", "finished my degree, don't need the study tools",
        "My dog passed away so no need for pet food", "only needed it for one trip",
        "life got busy, haven't logged in for months",
        "不需要了", "用不上了", "孩子上小学了，不需要早教课了", "项目结束了", "很少用，没必要续费", "退休了",
        "已经学完了", "买一次就够了", "现在不做这行了", "最近太忙，根本没时间用", "闲置很久了",
        "搬到公司附近，不用再点外卖了",
    ),
    "other": (
        "personal reasons", "Moving abroad next month", "prefer not to say", "too many emails",
        "just taking a break for a while", "health issues, will be back maybe", "n/a", "It's complicated",
        "relocating for work", "signed up by mistake", "my husband handles this now",
        "privacy concerns with how you use my data", "other",
        "个人原因", "要出国了", "不想说", "家里有事", "搬家了，不在服务范围内", "邮件太多了，很烦", "暂时休息一下",
        "没什么特别原因", "换了手机号，重新注册了", "身体原因", "怀孕了，暂时不方便", "其他",
    ),
}
HELD_OUT_PAIRS = [(text, label) for label, texts in HELD_OUT.items() for text in texts]
# Written after the lexicon was finished and never used to tune it: the fair ground for rules against the model.
FRESH: dict[str, tuple[str, ...]] = {
    "price": (
        "Can't justify $15/month on a pension", "the renewal quote was double last year's", "its gotten really pricy",
        "you charge more than anyone for the same thing", "cheaper to buy the stuff myself at the shop",
        "Budget cuts at our company", "found somewhere cheaper", "价格比去年涨了不少", "一年好几百，太不划算了",
        "钱不够用了，先停一停",
        "这个价格我真的接受不了", "太贵太贵", "续费涨价，不续了", "在拼多多买更便宜", "其他家给的优惠更多",
    ),
    "missing_feature": (
        "it doesn't let me add more than 3 users", "no recurring orders option", "I need an app for my iPad",
        "Can't print labels from it", "lacking the automation we need", "doesn't integrate with Slack",
        "没有批量导入功能", "不支持微信支付", "手机上不能编辑", "希望有家庭共享", "想要的功能都没有", "缺少API接口",
    ),
    "service": (
        "no one ever picks up the phone", "took 6 weeks to get my money back", "the delivery guy was so rude",
        "My order was stuck in transit for a month", "support closed my ticket without fixing anything",
        "you charged my card after I cancelled!", "客服回复太慢了", "快递送错地址了", "退货流程太复杂",
        "问题反映了好几次都没解决", "客服说会回电话结果没有", "配送总是晚点",
    ),
    "product_quality": (
        "the strap snapped after a week", "App crashes constantly on Android", "it arrived with a crack in it",
        "tastes awful lately", "colour ran all over my other clothes", "the software is so slow and glitchy",
        "东西收到就是坏的", "鞋子穿了一周就开裂", "软件老是崩溃", "衣服缩水严重", "吃了肚子不舒服，感觉不新鲜",
        "做工太差了",
    ),
    "competitor": (
        "Went back to my old provider", "my bank offers the same thing for free", "Netflix has better shows",
        "using a different service now", "switched over to Apple",
        "用了别的平台", "换成别的牌子了", "同事推荐了另一个软件",
        "已经改用钉钉",
    ),
    "no_longer_needed": (
        "we sold the car", "my baby is weaned now", "done with the renovation", "don't really need it",
        "haven't opened the app since summer", "moved on from that hobby", "已经不养猫了", "小孩毕业了",
        "生意不做了", "现在很少用了", "装修完了，用不着了", "没有需要了",
    ),
    "other": (
        "personal", "going travelling for a year", "rather not say thanks", "it's a long story", "spam",
        "no reason really", "私人原因", "要搬到国外了", "家庭原因", "不想说了", "邮件太多，看着烦",
        "暂时不想用，休息一下",
    ),
}
FRESH_PAIRS = [(text, label) for label, texts in FRESH.items() for text in texts]
# A second blind set, written after the first one had been used to fix the lexicon; never tuned on.
BLIND: dict[str, tuple[str, ...]] = {
    "price": (
        "the yearly plan went from 49 to 79, no way", "I'm a student and can't swing it", "Too $$$",
        "it adds up, I spend too much on subscriptions", "was only worth it with the discount",
        "降价了我再回来", "一个月三十块有点肉疼", "现在没什么收入，能省则省", "太坑了，收费越来越高",
        "首月优惠过后价格翻倍",
    ),
    "missing_feature": (
        "would need Apple Watch support", "the search is so limited, can't filter by date",
        "I needed shared folders for my team", "still can't schedule posts", "No way to pause deliveries",
        "不能设置提醒", "没有英文界面", "我需要能多人同时编辑", "不能按日期筛选", "希望能暂停订阅而不是取消",
    ),
    "service": (
        "I emailed three times, zero replies", "driver never showed up", "Your support people don't read messages",
        "they closed my complaint without reading it", "got passed between 4 departments",
        "打电话一直占线", "快递三天了还没发出", "客服机器人根本听不懂问题", "退货寄回去一个月都没退钱",
        "态度冷淡，爱答不理",
    ),
    "product_quality": (
        "the sound cuts out all the time", "tomatoes were mushy and the bread mouldy", "stitching came undone",
        "the app logs me out every day and loses my settings", "it rusted within a month",
        "声音老是断断续续", "水果烂了一半", "用一周就不亮了", "App经常打不开", "包装里的东西漏了一地",
    ),
    "competitor": (
        "Costco membership covers it now", "we went with Salesforce", "I'm trying a new app my sister uses",
        "Found one I like better", "now shopping at a local store",
        "现在用美团买菜", "换到腾讯视频了", "朋友那家更好用", "已经在别处订了", "公司换了供应商",
    ),
    "no_longer_needed": (
        "I got a new job with a company car", "the dog passed, no need for the food anymore",
        "my exam is over", "we've finished renovating", "I don't cook much anymore",
        "考试考完了", "宝宝断奶了，奶粉不需要了", "不开车了", "房子装修完了", "现在基本不在家做饭",
    ),
    "other": (
        "it's personal", "going to be abroad for a while", "just cleaning up my accounts",
        "I'd like fewer messages", "no particular reason, just felt like it",
        "私人事情", "要去外地工作一段时间", "清理一下账号", "消息推送太频繁", "没啥原因",
    ),
}
BLIND_PAIRS = [(text, label) for label, texts in BLIND.items() for text in texts]

# Negations must not flip to the negated topic; mixed-topic rants go to the stated or dominant reason.
TRICKY = (
    ("not expensive at all, the app just keeps crashing", "product_quality"),
    ("不贵，就是质量太差", "product_quality"),
    ("价格还行，主要是客服不理人", "service"),
    ("the price was fine, but I found a better app", "competitor"),
    ("it's not about the money, I just don't use it", "no_longer_needed"),
    ("价格不是问题，没时间用", "no_longer_needed"),
    ("no problems with delivery, but too pricey", "price"),
    ("并不贵，只是用不上了", "no_longer_needed"),
    ("Nothing wrong with the quality, but support ignored me", "service"),
    ("I wouldn't say it's expensive, just missing features I need", "missing_feature"),
    ("The main reason is the price, though delivery was slow and support was meh", "price"),
    ("I've been a customer for 6 years. The app got slower, support takes forever, but what finally did it is "
     "that the new plan costs double and I simply can't afford that on a pension. Too expensive, too expensive, "
     "TOO EXPENSIVE.", "price"),
    ("物流慢我忍了，客服态度差我也忍了，现在质量也越来越差，衣服穿一次就破，真的不想再买了", "product_quality"),
    ("客服 never replied，太差了", "service"),
    ("price太贵了", "price"),
    ("switched to 京东, much faster", "competitor"),
)


def _accuracy(predicted: list[str], truth: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


@pytest.fixture(scope="module")
def rules() -> RuleClassifier:
    return RuleClassifier()


def test_rules_reach_ninety_percent_on_hand_written_texts(rules: RuleClassifier) -> None:
    assert all(len(texts) >= 20 for texts in HELD_OUT.values())
    predicted = [rules.classify(text).label for text, _ in HELD_OUT_PAIRS]
    wrong = [(t, lab, p) for (t, lab), p in zip(HELD_OUT_PAIRS, predicted, strict=True) if p != lab]
    assert _accuracy(predicted, [lab for _, lab in HELD_OUT_PAIRS]) >= 0.90, wrong


@pytest.mark.parametrize(("text", "label"), TRICKY)
def test_negation_mixed_language_and_dominant_topic(rules: RuleClassifier, text: str, label: str) -> None:
    assert rules.classify(text).label == label


@pytest.mark.parametrize("text", ["not expensive", "不贵", "价格还行", "the price is fine", "价格合理",
                                  "not too pricey"])
def test_negated_or_approving_price_is_no_price_evidence(rules: RuleClassifier, text: str) -> None:
    assert rules.classify(text, source="review").strength == 0.0
    # Asked why they left, the customer gave some reason we cannot read: weak "other", never price.
    exit_answer = rules.classify(text, source="survey")
    assert exit_answer.label == "other"
    assert exit_answer.probs["price"] == 0.0
    assert exit_answer.confidence < 0.3


def test_praise_is_no_evidence_and_gibberish_is_weak_other(rules: RuleClassifier) -> None:
    assert rules.classify("Love it, great app!", source="review").strength == 0.0
    gibberish = rules.classify("asdf qwerty", source="review")
    assert gibberish.label == "other"
    assert 0 < gibberish.confidence < 0.3


@pytest.mark.parametrize("text", ["", None, float("nan"), "   "])
def test_empty_text_gives_no_evidence(rules: RuleClassifier, text: object) -> None:
    result = rules.classify(text)
    assert result.strength == 0.0
    assert result.confidence == 0.0


def test_each_result_carries_label_confidence_terms_source_and_time(rules: RuleClassifier) -> None:
    result = rules.classify("Way too expensive", source="cancel_reason", at=NOW)
    assert result.label == "price"
    assert 0.5 < result.confidence <= 1.0
    assert result.terms == ("too expensive",)
    assert (result.text, result.source, result.at, result.method) == ("Way too expensive", "cancel_reason", NOW,
                                                                      "rules")
    assert sum(result.probs.values()) == pytest.approx(1.0)


def test_ticket_category_is_weak_evidence_and_billing_means_service(rules: RuleClassifier) -> None:
    assert rules.classify("", source="ticket", category="billing").label == "service"
    assert rules.classify("", source="ticket", category="Pricing question").label == "price"
    assert rules.classify("", source="ticket", category="delivery").label == "service"
    # The words outweigh the category.
    assert rules.classify("the new price is far too expensive", source="ticket", category="billing").label == "price"


def test_low_rating_without_text_is_weak_quality_and_high_rating_is_nothing(rules: RuleClassifier) -> None:
    low = rules.classify("", source="review", rating=1)
    assert low.label == "product_quality"
    assert low.confidence < 0.3
    assert rules.classify(None, source="review", rating="5").strength == 0.0
    assert rules.classify("", source="review", rating=2).strength > 0


def test_very_long_text_is_capped(rules: RuleClassifier) -> None:
    text = "too expensive. " + "blah " * 50_000 + "rude support, awful delivery, broken, buggy"
    result = rules.classify(text)
    assert result.label == "price"
    assert result.terms == ("too expensive",)


@pytest.mark.parametrize("text", ["{{ 7*7 }}", "{% for x in y %}{{ x }}{% endfor %}", "${jndi:ldap://x}", "<b>hi</b>"])
def test_template_syntax_is_just_text(rules: RuleClassifier, text: str) -> None:
    result = rules.classify(text)
    assert result.label == "other"
    assert result.text == text
    priced = rules.classify(f"{text} too expensive")
    assert priced.label == "price"
    assert "49" not in priced.text


def test_chinese_phrases_match_where_jieba_splits_them_and_single_characters_only_as_words(
        rules: RuleClassifier) -> None:
    from winback.scoring.reason_lexicon import tokenizer

    assert "不需要" not in tokenizer().lcut("不需要了")  # jieba: 不 / 需要 / 了
    assert rules.classify("不需要了").label == "no_longer_needed"
    assert rules.classify("真的贵").label == "price"  # 贵 as a word of its own
    assert rules.classify("贵宾室很舒服").probs["price"] == 0.0  # 贵 inside 贵宾室 is not a price


def test_any_text_gives_a_valid_result() -> None:
    # A seeded fuzz rather than hypothesis, which would write its cache into the repository.
    rng = random.Random(3)
    alphabet = "abc xyz 不贵太服务质量换了 .,!?，。'\"{}*-_/\\\n\t\u200b😀\x00ÄßĳＡ１"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        result = RuleClassifier().classify(text, source=rng.choice(("ticket", "survey", "review")))
        assert result.label in LABELS
        assert 0.0 <= result.confidence <= result.strength <= 1.0
        assert sum(result.probs.values()) == pytest.approx(1.0 if result.strength else 0.0)


def test_typos_and_shouting(rules: RuleClassifier) -> None:
    for text, label in (("EXPENCIVE!!!", "price"), ("costumer servise was awful", "service"),
                        ("swiched to a compatitor", "competitor"), ("qualty is bad", "product_quality")):
        assert rules.classify(text).label == label, text


# ------------------------------------------------------------------------------------------------ aggregation


def _item(rules: RuleClassifier, text: str, source: str, days_ago: float) -> TextReason:
    return rules.classify(text, source=source, at=NOW - timedelta(days=days_ago))


def test_recent_reliable_evidence_beats_an_old_weak_review(rules: RuleClassifier) -> None:
    items = [_item(rules, "broke after a week, poor quality", "review", 400),
             _item(rules, "too expensive", "survey", 0)]
    label = aggregate("C1", items)
    assert label is not None
    assert label.reason == "price"
    assert label.evidence[0]["source"] == "survey"
    assert label.scores["price"] > label.scores["product_quality"] > 0


def test_cancel_reason_beats_a_ticket_of_the_same_day(rules: RuleClassifier) -> None:
    items = [_item(rules, "parcel arrived late", "ticket", 1),
             _item(rules, "switched to another app", "cancel_reason", 1)]
    assert aggregate("C2", items).reason == "competitor"  # type: ignore[union-attr]


def test_recency_decides_between_equally_reliable_sources(rules: RuleClassifier) -> None:
    items = [_item(rules, "too expensive", "complaint", 300),
             _item(rules, "the app crashes all the time", "complaint", 2)]
    assert aggregate("C3", items).reason == "product_quality"  # type: ignore[union-attr]
    # Measured from the customer's last activity, not from the newest text.
    last = NOW - timedelta(days=300)
    assert aggregate("C3", items, reference=last).reason == "price"  # type: ignore[union-attr]


def test_no_evidence_gives_no_label(rules: RuleClassifier) -> None:
    assert aggregate("C4", []) is None
    assert aggregate("C4", [rules.classify(""), rules.classify("love it", source="review")]) is None


def test_agreeing_evidence_raises_confidence(rules: RuleClassifier) -> None:
    one = aggregate("C5", [_item(rules, "too expensive", "survey", 0)])
    two = aggregate("C5", [_item(rules, "too expensive", "survey", 0), _item(rules, "太贵了", "complaint", 5)])
    assert one is not None and two is not None
    assert 0 < one.confidence < two.confidence <= 1


# ------------------------------------------------------------------------------------------------ DataFrame contract


def _evidence() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["A", "A", "B", "C", "D", "E"],
        "source": ["review", "survey", "cancel_reason", "ticket", "review", "complaint"],
        "text": ["great shoes", "找到了更便宜的平台，换了", "don't need it anymore", None, "", "{{ 7*7 }} rude staff"],
        "category": [None, "exit_survey", None, "Billing", "review", None],
        "rating": [5, None, None, None, None, None],
        "at": ["2026-01-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-02-01", "2026-02-02T00:00:00+08:00", None,
               "2026-04-04T04:04:04Z"],
    })


def test_label_customers_returns_one_row_per_customer_with_evidence() -> None:
    out = label_customers(_evidence())
    assert list(out.columns[:5]) == ["customer_id", "reason", "confidence", "method", "evidence"]
    assert {f"score_{k}" for k in LABELS} <= set(out.columns)
    got = dict(zip(out["customer_id"], out["reason"], strict=True))
    assert got == {"A": "competitor", "B": "no_longer_needed", "C": "service", "E": "service"}  # D said nothing
    assert set(out["method"]) == {"rules"}
    assert out["confidence"].between(0, 1).all()
    json.dumps(out["evidence"].tolist())  # JSON-serialisable as it stands
    first = out.loc[out["customer_id"] == "A", "evidence"].iloc[0][0]
    assert first["source"] == "survey"
    assert first["at"].startswith("2026-03-01")
    assert "换了" in first["terms"]


def test_label_customers_does_not_modify_its_input() -> None:
    frame = _evidence()
    before = frame.copy()
    label_customers(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_missing_columns_are_a_user_error() -> None:
    with pytest.raises(UserError, match="customer_id"):
        label_customers(pd.DataFrame({"text": ["x"], "source": ["survey"]}))


def test_optional_columns_may_be_absent() -> None:
    out = label_customers(pd.DataFrame({"customer_id": [1], "source": ["survey"], "text": ["too pricey"]}))
    assert out["reason"].tolist() == ["price"]


# ------------------------------------------------------------------------------------------------ the model

_EN_START = ("", "Honestly ", "Well, ", "To be honest, ", "Hi, ", "Sorry but ", "ok so ")
_EN_END = ("", ".", "!", " - bye", ". Thanks anyway", "..")
_ZH_START = ("", "说实话，", "其实", "嗯，", "您好，", "不好意思，")
_ZH_END = ("", "。", "！", "，就这样", "，谢谢", "...")
# Written separately from HELD_OUT, so the model is judged on texts it never saw.
_TRAIN_CORES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "price": (
        ("the plan costs way more than it's worth", "after the last price change it got too expensive",
         "I can't keep paying this much every month", "the annual renewal was a shock",
         "membership got pricier every year", "delivery charges eat up any savings", "it's simply out of my budget now",
         "paying premium prices for average stuff", "cheaper plans would have kept me", "money is tight at the moment",
         "the other shop sells it for less"),
        ("月费太高了", "涨价以后就不划算了", "每个月花这么多钱不值得", "续费价格太离谱", "预算不够了",
         "这个价位接受不了",
         "比以前贵了很多", "运费加上去就不便宜了", "经济压力大，能省就省", "会员费越来越贵", "别家同样的东西便宜一半"),
    ),
    "missing_feature": (
        ("there's no way to share lists with my family", "it can't export my data to CSV",
         "the app lacks a proper calendar view", "we needed an API and you don't offer one",
         "no support for multiple accounts", "wish it had a widget for the home screen",
         "the tool is missing recurring reminders", "can't connect it to our CRM", "still no tablet version",
         "the features haven't kept up with what I need"),
        ("没有共享清单的功能", "不能导出到Excel", "缺少日历视图", "不支持多账号登录", "希望能加一个桌面小组件",
         "没有定时提醒功能", "无法和我们的系统对接", "至今没有平板版", "功能太简单，满足不了工作需要",
         "想要的功能一直没上线"),
    ),
    "service": (
        ("the support team took a week to answer", "my order showed delivered but never came",
         "agents kept transferring me around", "refund still hasn't been processed", "nobody responded to my complaint",
         "the driver was rude and threw the box", "billing charged me after I cancelled",
         "shipping delays every single time", "had to chase them for weeks about a missing item",
         "the help line is never staffed"),
        ("客服一周都没回复", "显示签收了但我没收到", "电话转来转去没人解决", "退款一直没处理", "投诉了也没人理",
         "快递员态度很差", "取消了还在扣费", "每次发货都延迟", "少发了东西找了好几次", "售后电话永远打不通"),
    ),
    "product_quality": (
        ("the zipper broke on day three", "it stopped charging after a month", "the app freezes whenever I sync",
         "colours faded after one wash", "the seams came apart", "screen cracked with normal use",
         "the coffee tasted burnt and stale", "items arrive dented and defective", "the new version is full of bugs",
         "the sizes are all over the place and the fabric is thin"),
        ("拉链用了三天就坏了", "充电一个月就充不进去了", "同步的时候一直卡死", "洗了一次就褪色", "缝线全开了",
         "正常使用屏幕就裂了", "咖啡有股怪味，像过期了", "收到的东西有瑕疵", "新版本bug太多，经常闪退",
         "面料很薄，做工粗糙"),
    ),
    "competitor": (
        ("went over to a rival that bundles more", "a competitor gave me three months free",
         "I'm using another app that my friends use", "switched my shopping to Amazon",
         "my team moved everything to a different platform", "found an alternative with a better interface",
         "another brand fits me better", "their competitor delivers faster", "got a better offer from another provider",
         "I buy it at the supermarket down the road now"),
        ("去了竞争对手那边，送了三个月会员", "用别的app了，朋友都在用", "现在都在京东买", "团队整体迁到别的平台了",
         "找到了更好用的替代品", "别的品牌更适合我", "对手家发货更快", "另一家的会员权益更多", "现在去楼下超市买",
         "改用了其他公司的服务"),
    ),
    "no_longer_needed": (
        ("the kids outgrew it", "my project wrapped up so I don't need it", "I hardly ever open it",
         "we closed the shop", "it was only for the holiday season", "don't have any use for it now",
         "my circumstances changed and it's not relevant", "finished the course I bought it for",
         "haven't used it in months", "I've got everything I needed from it"),
        ("孩子长大了，用不着了", "项目做完了，不再需要", "基本不打开了", "店已经关了", "只是节日期间用一下",
         "现在用不到了",
         "情况变了，没需求了", "课程学完了", "好几个月没用过了", "该买的都买齐了"),
    ),
    "other": (
        ("family matters", "moving overseas soon", "I'd rather not share", "just want fewer emails in my inbox",
         "taking some time off", "medical reasons", "relocating for my partner's job",
         "created this account by accident",
         "no particular reason", "concerned about privacy"),
        ("家里的事情", "马上要移民了", "不方便透露", "邮件太多了", "想休息一段时间", "身体不好", "跟着家人去外地",
         "不小心注册的", "没有特别的原因", "担心个人隐私"),
    ),
}


def _training_set(per_label: int, *, seed: int = 7) -> tuple[list[str], list[str]]:
    """Programmatic variations of the training cores: greetings, sign-offs, case and doubled complaints."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, (en, zh) in _TRAIN_CORES.items():
        for i in range(per_label):
            if i % 2:
                core = rng.choice(zh) + rng.choice(("", "，" + rng.choice(zh)))
                text = rng.choice(_ZH_START) + core + rng.choice(_ZH_END)
            else:
                core = rng.choice(en) + rng.choice(("", ", and " + rng.choice(en)))
                text = rng.choice(_EN_START) + rng.choice((core, core.upper(), core.lower())) + rng.choice(_EN_END)
            texts.append(text)
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def trained() -> ReasonClassifier:
    texts, labels = _training_set(40)
    return ReasonClassifier(min_examples=200).fit(texts, labels)


def test_model_takes_over_and_matches_or_beats_the_rules_on_unseen_texts(trained: ReasonClassifier,
                                                                        rules: RuleClassifier) -> None:
    assert trained.method == "model"

    def accuracies(pairs: list[tuple[str, str]]) -> tuple[float, float]:
        texts, truth = [t for t, _ in pairs], [lab for _, lab in pairs]
        model = _accuracy([r.label for r in trained.classify_many([{"text": t} for t in texts])], truth)
        return model, _accuracy([rules.classify(t).label for t in texts], truth)

    # FRESH and BLIND were never seen by the model; BLIND was never used to shape the lexicon either.
    model, rule = accuracies(FRESH_PAIRS + BLIND_PAIRS)
    assert model >= rule
    model, rule = accuracies(BLIND_PAIRS)
    assert model >= rule
    # The hand-written set shaped the lexicon, so there the rules are the ones with the home advantage.
    model, _ = accuracies(HELD_OUT_PAIRS + list(TRICKY))
    assert model >= 0.9
    assert trained.classify("太贵了").method == "model"


def test_model_probabilities_are_calibrated_rows_in_label_order(trained: ReasonClassifier) -> None:
    assert trained.model_ is not None
    proba = trained.model_.predict_proba(["too expensive", "客服不理人", ""])
    assert proba.shape == (3, len(LABELS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert LABELS[int(proba[0].argmax())] == "price"
    assert trained.model_.predict(["客服不理人"]) == ["service"]


def test_too_few_or_one_sided_examples_keep_the_rules() -> None:
    texts, labels = _training_set(20)  # 140 < 200
    assert ReasonClassifier().fit(texts, labels).method == "rules"
    texts, labels = _training_set(40)
    without_other = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab != "other"]
    classifier = ReasonClassifier(min_examples=100).fit(*zip(*without_other, strict=True))  # type: ignore[arg-type]
    assert classifier.method == "rules"
    assert classifier.classify("too pricey").method == "rules"


def test_model_is_deterministic_and_survives_a_round_trip(trained: ReasonClassifier) -> None:
    texts, labels = _training_set(40)
    again = ReasonClassifier(min_examples=200).fit(texts, labels)
    sample = ["too pricey", "换了别家", "rude support", "mixed 质量差 and late"]
    assert trained.model_ is not None and again.model_ is not None
    np.testing.assert_array_equal(trained.model_.predict_proba(sample), again.model_.predict_proba(sample))
    loaded = ReasonClassifier.from_bytes(trained.to_bytes())
    assert loaded.model_ is not None
    np.testing.assert_array_equal(loaded.model_.predict_proba(sample), trained.model_.predict_proba(sample))
    out = loaded.label(_evidence())
    assert set(out["method"]) == {"model", "rules"}  # C has only a category: rules


def test_from_bytes_rejects_other_objects() -> None:
    import pickle

    with pytest.raises(UserError, match="ReasonClassifier"):
        ReasonClassifier.from_bytes(pickle.dumps({"not": "a classifier"}))


def test_text_model_rejects_unknown_labels() -> None:
    with pytest.raises(UserError, match="unknown churn reason"):
        TextModel().fit(["a", "b", "c"], ["price", "price", "bored"])


def test_importing_winback_scoring_reasons_has_no_side_effects() -> None:
    code = ("import logging, sys; import winback.scoring.reasons; "
            "assert 'jieba' not in sys.modules; assert not logging.getLogger().handlers; "
            "assert 'jieba' not in logging.root.manager.loggerDict")
    subprocess.run([sys.executable, "-c", code], check=True)
