"""Keyword lists for churn reasons in English and Chinese, written from how customers describe leaving.

Entry syntax (compiled at the bottom of this module):

- English entries are written as text looks after normalisation: lower case, hyphens as spaces, negative
  contractions expanded (`don't` → `do not`, `can't` → `can not`, `wont` → `will not`), other apostrophes dropped.
  Words are separated by spaces; a word ending in `*` may continue (`expens*`); `…` is a gap of up to three words
  that may not contain a negator (so `service … good` never matches "service was not good").
- Chinese entries are matched as substrings of the text, so phrases survive whatever jieba does to them; `…` is a gap
  of up to four characters without punctuation or 不/没. Single characters that are too ambiguous as substrings
  (贵 in 贵宾) are matched only when jieba yields them as a token (`ZH_TOKENS`).
- `NEUTRAL` entries consume their span and count for nothing: praise, and prices called fair ("价格还行").

Weights: STRONG says the reason on its own, MEDIUM leans towards it, WEAK only tips a balance.

The bottom of the module compiles the lists (lazily, on first use) and finds them in a text: `normalise` and
`find`.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = [
    "CATEGORY_LABELS", "CONCEDE_AFTER", "CONCEDE_BEFORE", "EMPHASIS", "EN", "EN_KNOWN_WORDS", "EN_NEGATORS",
    "EN_TYPOS", "LABELS", "MAX_CHARS", "NEUTRAL", "SOURCE_WEIGHTS", "ZH", "ZH_NEGATION", "ZH_TOKENS", "Match", "find",
    "normalise", "tokenizer",
]

LABELS = ("price", "missing_feature", "service", "product_quality", "competitor", "no_longer_needed", "other")
NEUTRAL = "_neutral"
STRONG, MEDIUM, WEAK = 1.0, 0.6, 0.3

# How far one item of each source is trusted: an explicit cancel reason or exit-survey answer is the customer telling
# us why; a complaint is a strong signal of what hurt; tickets are often routine; reviews are often written long
# before leaving and about one purchase.
SOURCE_WEIGHTS = {"cancel_reason": 1.0, "survey": 1.0, "complaint": 0.8, "ticket": 0.6, "review": 0.4}

EN: dict[str, dict[float, tuple[str, ...]]] = {
    "price": {
        STRONG: (
            "too expensive", "expensive", "expens*", "overpriced", "over priced", "pricey", "pricy", "prices",
            "price increase*", "price hike*", "price rise*", "raised the price*", "raised prices",
            "raised their price*", "put the price* up", "put up the price*", "price* went up", "price* … too high",
            "price* … high", "cost* too much", "costs a lot", "costly", "too costly", "can not afford",
            "could not afford", "can no longer afford", "afford it", "unaffordable", "not affordable",
            "not worth the money", "not worth the price", "not worth it", "not worth paying", "not worth",
            "waste of money", "rip off", "ripoff", "daylight robbery", "too much money", "charging too much",
            "charge too much", "charged too much", "hidden fee*", "hidden charge*", "subscription fee*",
            "membership fee*", "monthly fee*", "annual fee*", "yearly fee*", "shipping fee*", "delivery fee*",
            "shipping cost*", "delivery charge*", "budget", "tight budget", "cut* costs", "cutting back", "cut back",
            "save money", "saving money", "money is tight", "money was tight", "too dear", "not cheap",
            "out of my price range", "price range", "justify the cost", "justify the price", "justify paying",
            "justify spending", "poor value", "spend less money", "bad value", "not good value", "value for money",
            "lost my job", "renewal price", "doubled the price", "price* doubled", "cheaper plan", "paying so much",
            "paying too much", "pay so much", "pay too much", "costs more", "cost more", "price tag", "pricing",
            "too much for", "cost of living", "fees", "better deal*", "found a cheaper", "found cheaper",
            "cheaper elsewhere", "cheaper alternative*", "cheaper option*", "for half the price", "half the price",
            "better price*", "somewhere cheaper", "more affordable", "charge more", "charges more", "charging more",
            "renewal quote", "price issue*", "price problem*", "the price", "financial*", "finances",
            "can not justify", "could not justify",
        ),
        MEDIUM: (
            "price", "cost", "costs", "fee", "paying", "afford*", "discount*", "coupon*", "money", "luxury",
            "cheaper", "renewal",
        ),
        WEAK: (
            "promo*", "pay", "paid", "quote", "double",
        ),
    },
    "missing_feature": {
        STRONG: (
            "missing feature*", "feature* missing", "feature* … missing", "missing … feature*", "lack* … feature*",
            "lacks", "lacking", "lack of", "does not have", "did not have", "do not have the", "does not offer",
            "did not offer", "does not support", "not support*", "no support for", "support for", "no option*",
            "no way to", "not possible to", "can not export", "can not import", "can not sync", "can not integrate",
            "no integration*", "integration*", "integrate*", "wish it had", "wish you had", "wish there was",
            "wish there were", "would be nice if", "would be nice to", "if only it had", "feature request*",
            "requested feature*", "requested … feature*", "functionality", "dark mode", "offline mode", "export",
            "exports", "exporting", "exported", "import", "importing", "api", "customi*", "too basic", "very basic",
            "bare bones", "barebones", "not enough options", "few options", "more options", "roadmap", "still no",
            "still not available", "not available", "only works on", "only available", "does not work with",
            "not compatible", "incompatible", "compatib*", "synchroni*", "multi user", "multiple users",
            "family sharing", "shared account*", "not sync*", "more features", "new features", "promised feature*",
            "no mobile app", "no app", "no android", "no ios", "no desktop", "no web version", "no calendar",
            "analytics", "automation*", "automate", "language support", "outgrew", "outgrown", "needed more",
            "need more", "needs more", "no longer supports", "removed the", "took away", "got rid of", "feature",
            "features", "option to", "not work offline", "not work on", "only works with", "not let me",
            "not let you", "not let us", "not allow*", "no … option*",
        ),
        MEDIUM: (
            "missing", "lack", "wish", "function*", "basic", "limited", "advanced", "ability to", "not able to",
            "unable to", "can not do", "could not do", "does not do", "reporting", "bulk", "template*", "offline",
            "tool*", "workflow*", "sync", "syncing", "recurring", "users",
        ),
        WEAK: (
            "can not", "could not", "need", "needs",
        ),
    },
    "service": {
        STRONG: (
            "customer service", "customer support", "customer care", "customer services", "support team",
            "support staff", "support agent*", "service team", "help desk", "helpdesk", "call centre", "call center",
            "rude", "rudely", "unhelpful", "not helpful", "useless support", "no response", "no reply", "no answer",
            "never replied", "never responded", "never heard back", "never heard", "never got back", "never answered",
            "never got a reply", "never got a response", "never got an answer", "did not reply", "did not respond",
            "did not get back", "did not answer", "not respond*", "not reply", "not answer*", "not get … refund*",
            "never got … refund*", "no refund*", "not refund*", "never … refund*", "no one replied", "nobody replied",
            "no one answered", "nobody answered", "nobody helped", "no one helped", "no help", "nobody", "no one",
            "ignored", "ignoring", "on hold", "hold for", "waited", "wait time*", "kept waiting", "took days",
            "took weeks", "took forever", "took ages", "slow response*", "slow to respond", "slow to reply",
            "slow reply", "slow replies", "response time*", "late delivery", "delivery … late", "deliver* … late",
            "arrived late", "came late", "late", "delayed", "delay*", "never arrived", "never came", "never received",
            "never got my", "not arrive*", "not received", "not deliver*", "never delivered", "lost package*",
            "lost parcel*", "package* … lost", "parcel* … lost", "lost my order", "lost the order",
            "missing package*", "missing parcel*", "missing item*", "wrong item*", "wrong order", "wrong size",
            "wrong colour", "wrong color", "sent the wrong", "sent me the wrong", "shipping", "shipment*", "delivery",
            "deliveries", "courier*", "dispatch*", "postal", "refund*", "return process", "returns process",
            "return policy", "returns policy", "billing", "billed twice", "charged twice", "double charged",
            "double billed", "overcharged", "wrong charge*", "incorrect charge*", "unauthori* charge*",
            "charged after", "still charged", "kept charging", "invoice*", "hard to cancel", "impossible to cancel",
            "could not cancel", "can not cancel", "staff", "agent*", "representative*", "attitude", "unprofessional",
            "disrespect*", "runaround", "run around", "passed around", "escalat*", "chatbot", "no human",
            "real person", "live chat", "email support", "phone support", "tech support", "technical support",
            "locked out", "poor service", "bad service", "terrible service", "awful service", "horrible service",
            "worst service", "nobody cares", "no one cares", "call back", "callback", "never called", "hung up",
            "damaged in transit", "damaged in shipping", "damaged during delivery", "account closed",
            "blocked my account", "no follow up", "follow up", "communication", "responsive", "unresponsive",
            "money back", "in transit", "stuck in", "took … weeks", "took … days", "took … months", "charged my card",
            "charged … after", "after i cancel*", "picks up the phone", "pick up the phone", "answer the phone",
        ),
        MEDIUM: (
            "service", "support", "complain*", "ticket*", "response", "reply", "manager", "apolog*", "return*",
            "exchange", "useless", "waiting", "delivered", "tracking", "treated", "transferred", "rep", "bot",
            "charged me", "experience",
        ),
        WEAK: (
            "slow", "help",
        ),
    },
    "product_quality": {
        STRONG: (
            "quality", "poor quality", "bad quality", "low quality", "cheaply made", "feels cheap", "felt cheap",
            "cheap material*", "cheap plastic", "flimsy", "broke", "broken", "breaks", "break", "broke down",
            "fell apart", "falls apart", "falling apart", "defect*", "faulty", "fault*", "malfunction*",
            "stopped working", "stops working", "stop working", "does not work", "did not work", "not working",
            "not work", "never worked", "barely works", "no longer work*", "can not use", "could not use", "buggy",
            "bug", "bugs", "glitch*", "crash*", "freez*", "froze", "frozen", "lag", "lags", "lagging", "laggy",
            "unreliable", "unstable", "error*", "worn out", "wore out", "wears out", "torn", "ripped", "leak*",
            "shrank", "shrunk", "shrinks", "faded", "fading", "peeling", "peeled", "scratch*", "stain*", "smell*",
            "stinks", "stale", "expired", "spoiled", "rotten", "mould*", "mold*", "tasted", "fake", "counterfeit",
            "knock off", "not as described", "not as advertised", "not like the picture*", "looks nothing like",
            "does not fit", "did not fit", "poor fit", "dead on arrival", "defective", "substandard", "shoddy",
            "junk", "garbage", "rubbish", "crap", "poorly made", "badly made", "workmanship", "craftsmanship",
            "not durable", "durab*", "did not last", "only lasted", "lasted", "quality control", "went downhill",
            "gone downhill", "data loss", "lost my data", "lost data", "lost … data", "sync issue*", "sync problem*",
            "inaccurate", "wrong results", "arrived damaged", "damaged", "worst product", "terrible product",
            "bad product", "unusable", "keeps logging", "logs me out", "will not load", "not load*", "slow app",
            "app … slow", "slow to load", "takes forever to load", "design flaw*", "overheat*", "battery", "pilling",
            "ill fitting", "snap*", "crack*", "colour ran", "color ran", "bled", "dye",
        ),
        MEDIUM: (
            "taste*", "sizing", "performance", "worse", "material*", "stitching", "seams", "zip", "zipper", "fabric",
            "terrible", "awful", "horrible", "bad", "poor", "cheap", "trash",
        ),
        WEAK: (
            "issue*", "problem*",
        ),
    },
    "competitor": {
        STRONG: (
            "competitor*", "competition", "switched", "switching", "switch to", "switch*", "went with", "going with",
            "gone with", "changed to", "change to", "migrat*", "another provider", "another company", "another brand",
            "another app", "another service", "another store", "another shop", "another site", "another website",
            "another platform", "another supplier", "another vendor", "another retailer", "another option",
            "another subscription", "other provider*", "other company", "other companies", "other brand*",
            "other app*", "other store*", "other shop*", "other site*", "other website*", "other platform*",
            "other supplier*", "other vendor*", "other retailer*", "other service*", "different provider",
            "different app", "different company", "different brand", "different store", "different service",
            "different shop", "different supplier", "alternative*", "elsewhere", "better offer*", "better option*",
            "found a better", "found better", "found something better", "rival*", "went back to", "go back to",
            "back to my old", "offers the same", "offer the same", "somewhere else", "someplace else",
            "the other guys", "amazon", "walmart", "costco", "aldi", "lidl", "tesco", "ebay", "etsy", "shein", "temu",
            "aliexpress", "netflix", "spotify", "hulu", "disney", "notion", "dropbox", "offered me", "offers more",
            "competing", "replaced it", "replaced with", "does it better", "do it better", "signed up with", "joined",
            "prefer", "preferred", "prefers", "like … better", "like … more", "now use", "now using", "use … now",
            "started using", "start using", "signed up for", "subscribed to", "buying from", "buy from", "shop at",
            "shopping at", "order from", "ordering from", "local store", "local shop", "supermarket", "marketplace",
            "recommended by", "friend recommended", "another tool*", "other tool*", "different tool*",
        ),
        MEDIUM: (
            "moved to", "move to", "went to", "go with", "tried", "trying", "faster", "more convenient", "easier",
            "another one", "for free", "provider*", "they offer", "someone else", "somebody else", "instead",
            "other one", "better",
        ),
    },
    "no_longer_needed": {
        STRONG: (
            "no longer need*", "no longer use*", "no longer using", "no longer required", "no longer relevant",
            "no longer useful", "not need*", "not needed", "no need", "not using", "not use", "not used", "never use",
            "never used", "rarely use*", "barely use*", "hardly use*", "seldom use*", "rarely", "stopped using",
            "stop using", "no use for", "not useful anymore", "not have a use", "do not use", "kids … grown",
            "kids are older", "kids grew", "children … grown", "baby … grown", "grew up", "grown up",
            "project … ended", "project … finished", "project … over", "project* done", "finished the project",
            "course … finished", "finished my course", "graduated", "retired", "retiring", "closed my business",
            "closing my business", "closing the business", "business closed", "shut down my", "one off",
            "only needed it", "needed it once", "only needed", "just needed", "got what i needed", "no reason to",
            "not relevant", "does not apply", "life changed", "circumstances changed", "situation changed",
            "change of circumstances", "changed my routine", "lifestyle change", "stopped cooking", "not cooking",
            "not have time", "no time", "too busy", "season is over", "moved on", "not interested", "lost interest",
            "sitting unused", "gathering dust", "collecting dust", "not logged in", "not opened", "not been using",
            "not touched", "sold the", "sold my", "not … need*", "use it enough", "using it enough", "use it much",
            "used it much", "not much use",
        ),
        MEDIUM: (
            "one time", "have enough", "gave up", "quit", "not into", "finished", "completed", "seasonal",
            "outgrown it",
        ),
        WEAK: (
            "anymore", "any more", "no longer", "done with", "needed",
        ),
    },
    "other": {
        STRONG: (
            "personal reason*", "private reason*", "family reason*", "health reason*", "illness", "sick", "hospital",
            "surgery", "moving abroad", "moving house", "moving country", "moving to another country",
            "moving to another city", "moving overseas", "moving away", "relocat*", "moved abroad", "moved away",
            "moved house", "moved overseas", "moved country", "moved to another country", "moved to another city",
            "moved to a new", "emigrat*", "no reason", "prefer not to say", "rather not say", "not to say",
            "none of your business", "other reason*", "just because", "taking a break", "take a break",
            "need a break", "break from", "privacy", "personal data", "too many emails", "too many e mails",
            "too many notifications", "too many messages", "spam*", "stop emailing", "stop sending", "unsubscribe*",
            "mailing list", "newsletter*", "duplicate account", "second account", "accidentally", "by mistake",
            "signed up by mistake", "n a", "dunno", "not sure", "no comment", "divorce", "passed away", "deceased",
            "pregnan*", "ethic*", "political", "deployed", "new job", "job change", "changed jobs", "spend less time",
            "less screen time", "screen time", "cut down on",
        ),
        MEDIUM: (
            "health", "family", "ill", "emails", "abroad", "overseas", "travel*", "personal", "misc*", "whatever",
            "do not know", "pause*",
        ),
        WEAK: (
            "other", "reasons", "various",
        ),
    },
    NEUTRAL: {
        STRONG: (
            "love*", "loved it", "great product", "great app", "great service", "good service", "good support",
            "excellent", "amazing", "awesome", "happy with", "satisfied", "fantastic", "perfect", "five stars",
            "5 stars", "recommend*", "thank*", "no complaints", "nothing wrong", "reasonable price*", "fair price*",
            "good price*", "great price*", "decent price*", "good value", "great value", "good value for money",
            "great value for money", "worth the money", "worth every penny", "worth it", "affordable",
            "price* … not … high", "price* … not … expensive", "price* … not … issue", "price* … not … problem",
            "price* … not … reason", "price* … never … issue", "price* … never … problem", "cost* … not … issue",
            "money … not … issue", "price* … fine", "price* … ok", "price* … okay", "price* … reasonable",
            "price* … fair", "price* … good", "price* … right", "cost* … fine", "cost* … ok", "cost* … reasonable",
            "quality … fine", "quality … good", "quality … great", "quality … ok", "good quality", "great quality",
            "high quality", "excellent quality", "decent quality", "service … fine", "service … good",
            "service … great", "service … excellent", "support … great", "support … good", "support … helpful",
            "support … fine", "delivery … fast", "delivery … quick", "delivery … fine", "fast delivery",
            "quick delivery", "fast shipping", "quick shipping", "friendly staff", "helpful staff",
            "staff … friendly", "staff … helpful", "works great", "works well", "works fine", "well made",
            "good product", "nice", "great", "good", "great feature*", "feature* … great", "feature* … good",
            "feature* … useful",
        ),
    },
}

ZH: dict[str, dict[float, tuple[str, ...]]] = {
    "price": {
        STRONG: (
            "太贵", "好贵", "很贵", "挺贵", "偏贵", "有点贵", "贵了", "贵死", "真贵", "贵得", "贵啊", "贵太多",
            "价格高", "价格太高", "价格偏高", "价格贵", "价钱贵", "价钱高", "价位高", "收费高", "收费太高", "费用高",
            "费用太高", "涨价", "又涨", "提价", "调价", "价格上涨", "价格…涨", "不值", "不值得", "不划算", "划不来",
            "性价比低", "性价比不高", "性价比差", "性价比太低", "买不起", "用不起", "付不起", "负担不起", "承担不起",
            "负担重", "负担太重", "烧钱", "坑钱", "乱收费", "隐藏费用", "额外收费", "会员费", "月费", "年费",
            "订阅费", "运费", "手续费", "服务费", "没钱", "缺钱", "手头紧", "经济压力", "经济原因", "预算", "省钱",
            "开支", "消费降级", "降价", "便宜点", "便宜一点", "便宜些", "能便宜", "再便宜", "低一点", "割韭菜",
            "智商税", "虚高", "溢价", "续费太贵", "花不起", "太费钱", "费钱", "多花钱", "花冤枉钱", "冤枉钱",
            "消费不起", "钱不够", "更便宜", "更划算", "便宜一半", "便宜多了", "便宜很多", "便宜不少", "价格问题",
            "价钱问题", "价格因素", "价格原因", "贵的", "太高了",
        ),
        MEDIUM: (
            "价格", "价钱", "价位", "收费", "费用", "性价比", "续费", "优惠", "折扣", "打折", "优惠券", "花费",
            "成本", "钱", "钱包", "舍不得",
        ),
        WEAK: (
            "便宜", "离谱",
        ),
    },
    "missing_feature": {
        STRONG: (
            "功能太少", "功能少", "功能不全", "功能不够", "功能不足", "功能单一", "功能简单", "功能有限", "功能缺失",
            "缺少功能", "缺功能", "缺少", "缺乏", "没有…功能", "没…功能", "少了…功能", "不支持", "无法导出",
            "不能导出", "没法导出", "导出", "导入", "同步", "集成", "接口", "希望增加", "希望能增加", "希望加",
            "建议增加", "能不能加", "增加…功能", "新功能", "没有选项", "选项太少", "不能自定义", "无法自定义",
            "自定义", "定制", "个性化", "夜间模式", "深色模式", "暗黑模式", "多账号", "批量", "报表", "中文版",
            "英文版", "安卓版", "电脑版", "网页版", "没有app", "没有客户端", "没有手机版", "太简陋", "简陋",
            "满足不了", "不能满足", "无法满足", "不够用", "迟迟不上线", "还没上线", "承诺的功能", "不兼容", "兼容",
            "做不到", "实现不了", "无法实现", "没这个", "没有这个", "不提供", "没提供", "需要的功能", "太基础",
            "功能上", "功能方面", "离线", "功能",
        ),
        MEDIUM: (
            "支持", "对接", "加个", "添加", "共享", "多人", "模板", "局限", "跟不上", "人工智能", "不能做",
            "没办法做",
        ),
        WEAK: (
            "工具", "基础", "不能", "无法", "没法",
        ),
    },
    "service": {
        STRONG: (
            "客服", "服务态度", "态度差", "态度恶劣", "态度不好", "态度很差", "服务差", "服务太差", "服务很差",
            "服务不好", "售后", "没人理", "没人回复", "没人回", "没人管", "没人处理", "没人", "没有人", "不理人",
            "不理我", "爱理不理", "不回复", "不回消息", "没回复", "没有回复", "没回应", "回复慢", "回复太慢",
            "回得慢", "响应慢", "一直等", "等了", "等太久", "等很久", "排队", "打不通", "推诿", "踢皮球", "扯皮",
            "敷衍", "推卸", "不负责", "不处理", "没处理", "处理慢", "处理太慢", "投诉无门", "投诉", "工单", "物流",
            "快递", "发货", "配送", "送货", "送达", "送错", "发错", "少发", "漏发", "错发", "丢件", "丢失", "包裹",
            "延迟", "延误", "晚到", "迟迟没到", "没收到", "收不到", "一直没到", "还没到", "没到货", "退款",
            "没有退款", "不退款", "不给退", "没退款", "退货", "退换", "换货", "退钱", "扣款", "重复扣", "多扣",
            "扣了两次", "乱扣", "账单", "发票", "扣费", "自动续费", "取消不了", "无法取消", "难取消", "注销不了",
            "机器人", "转人工", "转到人工", "找不到人", "店家", "商家", "卖家", "服务员", "员工", "工作人员",
            "体验差", "不专业", "骂人", "甩锅", "骗人", "欺骗", "态度", "催了", "催单", "客户经理", "对接人",
            "技术支持", "没有客服", "回访", "售后服务",
        ),
        MEDIUM: (
            "等半天", "服务", "人工", "电话", "道歉", "赔偿", "补偿", "运输", "体验", "回复", "问题没解决", "没解决",
            "解决不了",
        ),
        WEAK: (
            "处理",
        ),
    },
    "product_quality": {
        STRONG: (
            "质量", "质量差", "质量太差", "质量不好", "质量问题", "品质", "品质差", "做工", "做工差", "粗糙", "劣质",
            "次品", "瑕疵", "残次", "坏了", "坏掉", "用坏", "容易坏", "就坏", "损坏", "破损", "破了", "裂了", "裂开",
            "开裂", "开线", "脱线", "掉色", "褪色", "起球", "缩水", "变形", "生锈", "漏水", "漏气", "异味", "有味道",
            "难闻", "发霉", "过期", "变质", "不新鲜", "难吃", "难喝", "味道不对", "假货", "假的", "仿冒", "山寨",
            "与描述不符", "和描述不符", "货不对板", "和图片不符", "与图片不符", "尺码不准", "不合身", "故障", "毛病",
            "不耐用", "不结实", "一碰就", "用了几天就", "没几天就", "不能用", "用不了", "没法用", "打不开", "闪退",
            "卡顿", "很卡", "太卡", "卡死", "死机", "崩溃", "报错", "出错", "漏洞", "不稳定", "不好用", "难用",
            "不灵", "失灵", "耗电", "发热", "发烫", "续航", "噪音", "太吵", "数据丢失", "丢数据", "越来越差",
            "大不如前", "不如以前", "太烂", "很烂", "掉线", "断线", "加载慢", "加载不出", "登录不上", "登不上",
            "用不了了", "做得差", "不好使", "不靠谱", "开胶", "脱胶", "就破", "就烂",
        ),
        MEDIUM: (
            "问题", "差劲", "太差", "很差", "坑", "垃圾", "错误", "不准", "电池", "面料", "材料", "材质",
        ),
    },
    "competitor": {
        STRONG: (
            "竞争对手", "竞品", "对手", "同行", "别家", "别的家", "其他家", "其它家", "另一家", "另外一家",
            "别的平台", "其他平台", "其它平台", "别的app", "其他app", "别的软件", "其他软件", "别的品牌", "其他品牌",
            "其他牌子", "别的牌子", "别的店", "其他店", "别的商家", "其他商家", "别的公司", "其他公司", "别的服务",
            "其他服务商", "别的供应商", "换成", "换到", "改用", "转用", "转到", "转投", "投奔", "跳槽", "换家",
            "用了别的", "用别的", "买别的", "去别的", "替代", "平替", "更好的选择", "找到更好", "另一款", "找到了更",
            "更好用的", "淘宝", "京东", "拼多多", "天猫", "美团", "饿了么", "抖音", "小红书", "亚马逊", "盒马",
            "唯品会", "苏宁", "当当", "闲鱼", "爱奇艺", "优酷", "钉钉", "飞书", "别人家", "更喜欢", "还是喜欢",
            "比较喜欢", "更爱", "现在用", "开始用", "朋友推荐", "别处", "别的地方", "其他地方", "线下", "超市",
            "实体店", "那家",
        ),
        MEDIUM: (
            "人家", "隔壁", "那边", "另外的", "其他的", "别的", "换了", "换个", "更好的", "更好", "另一个", "试试",
            "试用", "推荐了", "更快", "更全", "更方便", "更多", "更省心",
        ),
    },
    "no_longer_needed": {
        STRONG: (
            "不需要", "不再需要", "没需要", "没有需要", "没需求", "没有需求", "需求没了", "用不上", "用不到",
            "用不着", "不用了", "不怎么用", "很少用", "用得少", "基本不用", "几乎不用", "没怎么用", "没用过",
            "不常用", "闲置", "吃灰", "不玩了", "不看了", "不学了", "不做了", "孩子大了", "孩子长大", "宝宝大了",
            "项目结束", "项目做完", "课程结束", "毕业", "退休", "关店", "店关了", "倒闭", "不做生意", "一次性",
            "只用一次", "只需要一次", "阶段性", "已经够了", "够用了", "暂时不需要", "暂时用不上", "没时间", "太忙",
            "没空", "习惯变了", "生活变了", "情况变了", "不感兴趣", "没兴趣", "兴趣不大", "不再用", "不想用了",
            "不用这个", "用完了", "没必要", "不做这行", "改行", "就够了", "一次就够", "不用再", "学完", "做完",
            "需求变了", "再也不用", "用处不大", "没什么用",
        ),
        MEDIUM: (
            "不买了", "不再", "已经不", "结束了", "完成了", "不必要", "多余",
        ),
    },
    "other": {
        STRONG: (
            "个人原因", "私人原因", "家庭原因", "家里原因", "身体原因", "健康原因", "生病", "住院", "搬家", "出国",
            "移民", "回国", "去外地", "换城市", "其他原因", "其它原因", "没什么原因", "没有原因", "不想说",
            "不方便说", "不便透露", "无可奉告", "随便", "说不清", "休息一下", "暂停", "歇一阵", "隐私",
            "个人信息", "邮件太多", "短信太多", "推送太多", "消息太多", "骚扰", "垃圾邮件", "广告太多", "营销",
            "重复账号", "另一个账号", "注册错", "误操作", "点错", "误点", "怀孕", "工作变动", "换工作", "调动",
            "去世", "私事", "重新注册", "国外", "海外",
        ),
        MEDIUM: (
            "家人", "家里", "个人", "搬到", "就是不想",
        ),
        WEAK: (
            "离开", "原因", "其他", "其它",
        ),
    },
    NEUTRAL: {
        STRONG: (
            "价格…还行", "价格…合理", "价格…公道", "价格…实惠", "价格…可以", "价格…能接受", "价格…不贵", "价格…便宜",
            "价格…ok", "价格…还好", "价格…没问题", "价钱…合理", "价钱…还行", "价钱…公道", "价格…适中", "价格…挺好",
            "价格…不算高", "价格倒是", "价格方面还", "价格不是问题", "不在乎价格", "性价比高", "性价比很高",
            "性价比不错", "性价比挺高", "物美价廉", "质量…不错", "质量…很好", "质量…挺好", "质量…可以", "质量…没问题",
            "质量…还行", "质量好", "服务…不错", "服务…很好", "服务…挺好", "服务好", "客服…很好", "客服…不错",
            "客服…耐心", "客服…热情", "物流…快", "发货…快", "功能…强大", "功能…齐全", "功能…好用", "功能…很好",
            "很满意", "满意", "喜欢", "好用", "不错", "很好", "推荐", "好评", "五星", "谢谢", "感谢", "没毛病",
            "挺好",
        ),
    },
}

# Single characters matched only as whole jieba tokens: as substrings they hide inside unrelated words.
ZH_TOKENS: dict[str, tuple[str, float]] = {
    "贵": ("price", STRONG), "坏": ("product_quality", STRONG), "漏": ("product_quality", MEDIUM),
    "卡": ("product_quality", MEDIUM), "慢": ("service", MEDIUM), "差": ("product_quality", WEAK),
    "烂": ("product_quality", STRONG),
    "丑": ("product_quality", MEDIUM), "旧": ("product_quality", WEAK),
}

EN_NEGATORS = frozenset({"not", "no", "never", "hardly", "nothing", "nor", "neither", "without", "none"})
# A negator within the last few characters before a Chinese match: 不贵, 不太贵, 没那么贵, 也不算贵, 并不是很贵.
ZH_NEGATION = r"(?:不|没有?|无|并不|从不|未)(?:是因为|是很|是太|算太|算很|太|很|算|怎么|那么|这么|是|大|觉得|会)?$"
# Words that mark the clause giving the main reason; matches after them in that clause count more.
EMPHASIS = ("main reason", "mainly", "mostly", "primarily", "the reason", "biggest", "above all", "most of all",
            "bottom line", "main issue", "main problem", "finally", "last straw", "final straw", "主要", "关键是",
            "根本原因", "最大的问题", "说到底", "归根结底", "最重要", "最后一根稻草", "压垮")
# Concessions: what the customer says they could live with is not why they left. English cues come before the
# topic ("I could live with the slow delivery"), Chinese ones after it ("物流慢我忍了").
CONCEDE_BEFORE = ("could live with", "can live with", "put up with", "tolerate", "tolerated", "forgive", "overlook",
                  "fine with", "ok with", "okay with", "besides", "apart from", "aside from", "other than")
CONCEDE_AFTER = ("我忍了", "也忍了", "都忍了", "还能忍", "可以忍", "能忍", "忍忍", "也就算了", "都算了", "就算了",
                 "无所谓", "也还好", "都还好", "不在乎", "倒是其次", "是其次", "还能接受", "可以接受")

# Common misspellings that are more than one edit away, or too short for the automatic correction.
EN_TYPOS = {
    "costumer": "customer", "costumers": "customers", "custmer": "customer", "cust": "customer",
    "servic": "service", "qualty": "quality", "quailty": "quality", "qualiy": "quality", "expencive": "expensive",
    "expensiv": "expensive", "xpensive": "expensive", "exspensive": "expensive", "pricy": "pricey",
    "pricey": "pricey", "overpirced": "overpriced", "cheeper": "cheaper", "chaeper": "cheaper", "cancelation":
    "cancellation", "recieve": "receive", "recieved": "received", "deliverd": "delivered", "dilivery": "delivery",
    "delievery": "delivery", "delivary": "delivery", "competiter": "competitor", "compatitor": "competitor",
    "featur": "feature", "fetures": "features", "feture": "feature", "brokn": "broken", "borken": "broken",
    "anymroe": "anymore", "nomore": "no more", "dosent": "does not", "doesent": "does not", "didint": "did not",
    "thx": "thanks", "pls": "please", "u": "you", "ur": "your", "r": "are", "coz": "because", "cuz": "because",
    "bc": "because", "b4": "before", "lol": "", "tbh": "", "imo": "",
}
# Real words one edit away from a lexicon word; never "correct" them.
EN_KNOWN_WORDS = frozenset({
    "shopping", "mostly", "wanted", "wanting", "expansive", "prides", "broker", "relays", "loved", "loves",
    "moves", "mowed", "barely", "cheaper", "sported", "servile", "deliver", "realise", "realize", "sporting",
    "costume", "customs", "missing", "kissing", "pricing", "pricier", "slowed", "flowed", "glowed", "ranked",
    "parcels", "rattled", "battled", "settled", "waiter", "waiters", "writing", "waking", "walked", "feather",
    "creature", "features", "ignorant", "emotional", "national", "reporter", "exports", "imports", "experts",
    "quietly", "quite", "quit", "quilt", "support", "supports", "supper", "refused", "refunds", "defend",
    "tasting", "testing", "rested", "listed", "lasting", "posting", "hosting", "boasting", "coasting", "roasting",
    "needed", "heeded", "seeded", "weeded", "noted", "never", "fever", "clever", "lever", "server", "servers",
})

# Ticket categories are free text; a substring decides (first match wins). Billing is read as service: a billing
# ticket is usually an operational failure (double charge, missing refund, wrong invoice); a complaint about the
# price itself shows up in the words, which outweigh a category. Account administration is deliberately absent.
CATEGORY_LABELS: tuple[tuple[str, str], ...] = (
    ("pric", "price"), ("cost", "price"), ("discount", "price"), ("coupon", "price"), ("promo", "price"),
    ("价格", "price"), ("优惠", "price"), ("费用", "price"),
    ("feature", "missing_feature"), ("integration", "missing_feature"), ("suggestion", "missing_feature"),
    ("功能", "missing_feature"), ("建议", "missing_feature"),
    ("quality", "product_quality"), ("defect", "product_quality"), ("damage", "product_quality"),
    ("broken", "product_quality"), ("bug", "product_quality"), ("crash", "product_quality"),
    ("质量", "product_quality"), ("故障", "product_quality"),
    ("bill", "service"), ("payment", "service"), ("invoice", "service"), ("refund", "service"),
    ("charge", "service"), ("deliver", "service"), ("shipping", "service"), ("logistic", "service"),
    ("courier", "service"), ("return", "service"), ("support", "service"), ("service", "service"),
    ("物流", "service"), ("配送", "service"), ("快递", "service"), ("客服", "service"),
    ("退", "service"), ("售后", "service"), ("账单", "service"), ("支付", "service"),
    ("technical", "product_quality"), ("tech", "product_quality"), ("performance", "product_quality"),
    ("技术", "product_quality"),
    ("competit", "competitor"),
)


# ------------------------------------------------------------------------------------------------ matching

MAX_CHARS = 2_000  # caps the cost of one text; a reason is stated well before this
_EN_GAP = r"(?:\s+(?!(?:not|no|never)(?![a-z0-9]))[a-z0-9]+){0,3}"
_ZH_GAP = r"[^\s,.!?;:，。！？；：、不没]{0,4}"
_CLAUSE = re.compile(r"[,.;:!?()\n，。！？；：]|\bbut\b|\bhowever\b|\bthough\b|但|可是|不过")
_STRESS, _CONCEDED = 2.5, 0.3  # "the main reason is …" outweighs a rant about everything else
# Absence is the complaint itself for features ("no dark mode") and needs ("don't cook much anymore"); "other" has
# nothing to negate.
_UNNEGATED = ("missing_feature", "no_longer_needed", "other")
_CONTRACTIONS = ((r"\bcan'?t\b|\bcannot\b", "can not"), (r"\bwon'?t\b", "will not"), (r"\bain'?t\b", "is not"),
                 (r"n't\b", " not"), (r"\b(do|does|did|is|was|are|were|could|would|should|have|has|had)nt\b",
                                      r"\1 not"))


@dataclass(frozen=True)
class _Entry:
    label: str
    weight: float
    term: str
    negatable: bool
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Match:
    """One accepted match: the lexicon `term`, the `text` it matched, its emphasis or concession `factor`."""

    label: str
    weight: float
    term: str
    text: str
    start: int
    negated: bool
    factor: float = 1.0


def _en_pattern(entry: str) -> re.Pattern[str]:
    parts = []
    for i, word in enumerate(entry.split()):
        if word == "…":
            parts.append(_EN_GAP)
            continue
        body = re.escape(word[:-1]) + "[a-z0-9]*" if word.endswith("*") else re.escape(word)
        parts.append((r"\s+" if i else "") + body)
    return re.compile("".join(parts) + r"(?![a-z0-9])")


def _zh_pattern(entry: str) -> re.Pattern[str]:
    return re.compile(_ZH_GAP.join(re.escape(part) for part in entry.split("…")))


def _compile(table: Mapping[str, Mapping[float, tuple[str, ...]]], *, english: bool) -> dict[str, list[_Entry]]:
    """Entries indexed by their first word (English; `expens*` under `expens*`) or first character (Chinese)."""
    index: dict[str, list[_Entry]] = {}
    seen: dict[str, str] = {}
    for label, groups in table.items():
        for weight, terms in groups.items():
            for term in terms:
                if seen.setdefault(term, label) != label:
                    raise ValueError(f"lexicon term {term!r} is listed under {seen[term]} and {label}")
                negatable = (label not in _UNNEGATED and not re.match("[不没无]", term)
                             and not set(term.split()) & EN_NEGATORS)
                first = term.split()[0] if english else term[0]
                key = first[:-1] + "*" if first.endswith("*") else first
                pattern = _en_pattern(term) if english else _zh_pattern(term)
                index.setdefault(key, []).append(_Entry(label, weight, term, negatable, pattern))
    return index


@cache
def _compiled() -> tuple[dict[str, list[_Entry]], dict[str, list[_Entry]], dict[str, str]]:
    """The indexed English and Chinese entries and the spelling-correction index, built on first use."""
    words = {w for groups in EN.values() for terms in groups.values() for t in terms for w in t.split()}
    index: dict[str, str] = {}
    # Every lexicon word of six letters or more, and each way of dropping one letter from it: a text word that is
    # one of those (or becomes one by dropping a letter) is a one-edit misspelling of the lexicon word.
    for word in sorted(w for w in words if len(w) >= 6 and w.isalpha()):
        index.setdefault(word, word)
        for i in range(len(word)):
            index.setdefault(word[:i] + word[i + 1:], word)
    index.update({w: w for w in EN_KNOWN_WORDS})
    return _compile(EN, english=True), _compile(ZH, english=False), index


@cache
def tokenizer() -> Any:
    """A private jieba tokenizer, built on first use: importing jieba adds a log handler, so not at import time."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its "Building prefix dict" chatter is noise for a library user
    instance = jieba.Tokenizer()
    instance.initialize()
    return instance


def _correct(word: str, index: Mapping[str, str]) -> str:
    if word in EN_TYPOS:
        return EN_TYPOS[word]
    if len(word) < 6 or index.get(word) == word:
        return word
    if word in index:
        return index[word]
    return next((index[word[:i] + word[i + 1:]] for i in range(len(word)) if word[:i] + word[i + 1:] in index), word)


def normalise(text: object) -> str:
    """Lower-cased, width-folded, capped text with negative contractions expanded and common typos fixed."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower().replace("’", "'").replace("‘", "'")
    for pattern, repl in _CONTRACTIONS:
        text = re.sub(pattern, repl, text)
    text = re.sub(r"[-_/'\"`]", lambda m: "" if m.group() == "'" else " ", text)
    index = _compiled()[2]
    return re.sub(r"[a-z]+", lambda m: _correct(m.group(), index), text)


def _negated(text: str, start: int, entry: _Entry) -> bool:
    if not entry.negatable:
        return False
    if re.match(r"[\u4e00-\u9fff]", entry.term):
        return re.search(ZH_NEGATION, text[max(0, start - 6):start]) is not None
    words = re.findall(r"[a-z0-9]+", _CLAUSE.split(text[max(0, start - 60):start])[-1])[-4:]
    return any(w in EN_NEGATORS and words[i + 1:i + 2] not in (["only"], ["just"]) for i, w in enumerate(words))


def _multipliers(text: str) -> list[tuple[int, int, float]]:
    """Spans whose matches count more (the stated main reason) or less (what the customer could live with)."""
    spans = []
    for cue in (*EMPHASIS, *CONCEDE_BEFORE):
        factor = _STRESS if cue in EMPHASIS else _CONCEDED
        for m in re.finditer(re.escape(cue), text):
            end = _CLAUSE.search(text, m.end())
            spans.append((m.end(), end.start() if end else len(text), factor))
    for cue in CONCEDE_AFTER:
        for m in re.finditer(re.escape(cue), text):
            starts = [b.end() for b in _CLAUSE.finditer(text, 0, m.start())]
            spans.append((starts[-1] if starts else 0, m.start(), _CONCEDED))
    return spans


def _candidates(text: str) -> list[tuple[int, int, _Entry]]:
    """Every lexicon match at every position, overlaps included."""
    en, zh, _ = _compiled()
    found = []
    for word in re.finditer(r"[a-z0-9]+", text):
        token, start = word.group(), word.start()
        for key in (token, *(token[:n] + "*" for n in range(1, len(token) + 1))):
            for entry in en.get(key, ()):
                if hit := entry.pattern.match(text, start):  # type: ignore[union-attr]
                    found.append((start, hit.end(), entry))
    for start, char in enumerate(text):
        for entry in zh.get(char, ()):
            if hit := entry.pattern.match(text, start):  # type: ignore[union-attr]
                found.append((start, hit.end(), entry))
    if any(char in text for char in ZH_TOKENS):
        for word, start, end in tokenizer().tokenize(text):
            if word in ZH_TOKENS:
                found.append((start, end, _Entry(*ZH_TOKENS[word], word, True)))
    return found


def find(text: object) -> list[Match]:
    """The non-overlapping lexicon matches in a text, neutral and negated ones included."""
    norm = normalise(text)
    taken = bytearray(len(norm) + 1)
    spans = _multipliers(norm)
    found = [(s, e, entry, _negated(norm, s, entry)) for s, e, entry in _candidates(norm)]
    accepted = []
    # Longest match first ("customer service" beats "service"), but a match that carries its own negation
    # ("not using") beats a longer one that the negation would cancel ("[not] using it enough").
    for start, end, entry, negated in sorted(found, key=lambda c: (c[3], c[0] - c[1], -c[2].weight, c[0])):
        if any(taken[start:end]):
            continue
        taken[start:end] = b"\x01" * (end - start)
        factor = math.prod(f for a, b, f in spans if a <= start < b)
        accepted.append(Match(entry.label, entry.weight, entry.term, norm[start:end], start, negated, factor))
    return sorted(accepted, key=lambda m: m.start)
