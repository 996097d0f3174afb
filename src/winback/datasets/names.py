"""Vocabulary of the generated world: people's names, places, products, and what customers write.

Kept apart from `generate` so the simulation reads as logic. Texts come in pairs of languages; each churn reason has
several wordings so that a model must read them rather than match one sentence. Wordings of different reasons avoid
each other's key words (no "cheap" in a quality complaint, no "price" in a switch to a competitor).
"""

from __future__ import annotations

# Surnames with pinyin, roughly in order of frequency (the generator weights the first ones more).
ZH_SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
    ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"), ("郑", "zheng"),
    ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"),
    ("邓", "deng"), ("曹", "cao"), ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("袁", "yuan"), ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("苏", "su"), ("魏", "wei"), ("吕", "lv"), ("丁", "ding"), ("任", "ren"),
    ("沈", "shen"),
)
ZH_GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"),
    ("英", "ying"), ("华", "hua"), ("玉", "yu"), ("兰", "lan"), ("文", "wen"), ("红", "hong"), ("建", "jian"),
    ("国", "guo"), ("晨", "chen"), ("欣", "xin"), ("宇", "yu"), ("浩", "hao"), ("然", "ran"), ("子", "zi"),
    ("涵", "han"), ("轩", "xuan"), ("怡", "yi"), ("佳", "jia"), ("琪", "qi"), ("思", "si"), ("雨", "yu"),
    ("博", "bo"), ("鑫", "xin"), ("婷", "ting"), ("雪", "xue"), ("慧", "hui"), ("颖", "ying"), ("琳", "lin"),
    ("晓", "xiao"), ("鹏", "peng"), ("辉", "hui"), ("俊", "jun"), ("凯", "kai"), ("斌", "bin"), ("宁", "ning"),
    ("丹", "dan"), ("倩", "qian"), ("阳", "yang"), ("飞", "fei"),
)
EN_FIRST: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy",
    "Matthew", "Lisa", "Anthony", "Emily", "Mark", "Olivia", "Paul", "Amelia", "Steven", "Isla", "Andrew", "Ava",
    "Joshua", "Grace", "Oliver", "Sophie", "Harry", "Chloe", "George", "Lucy", "Jack", "Ella", "Noah", "Hannah",
    "Leo", "Mia", "Oscar", "Ruby", "Ethan", "Zoe", "Samuel", "Maya", "Henry", "Freya", "Lucas", "Alice",
)
EN_LAST: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
    "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green",
    "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Evans", "Turner", "Phillips", "Parker",
    "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Hughes", "Wood", "Hall", "Patel",
    "Khan", "Ward", "Walsh", "Price", "Bennett",
)

# (locale, IANA zone, UTC offset in hours ignoring daylight saving, cities). Offsets only shape the time of day.
PLACES: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("zh-CN", "Asia/Shanghai", 8, ("上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "武汉", "西安", "苏州")),
    ("en-US", "America/New_York", -5, ("New York", "Boston", "Atlanta", "Miami", "Philadelphia")),
    ("en-US", "America/Chicago", -6, ("Chicago", "Houston", "Dallas", "Minneapolis")),
    ("en-US", "America/Denver", -7, ("Denver", "Salt Lake City", "Albuquerque")),
    ("en-US", "America/Los_Angeles", -8, ("Los Angeles", "San Francisco", "Seattle", "Portland", "San Diego")),
    ("en-GB", "Europe/London", 0, ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Edinburgh")),
)
# Reserved for documentation and testing (RFC 2606), so no generated message can reach a real mailbox.
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.test", "inbox.test")
US_AREA_CODES: tuple[str, ...] = ("212", "617", "404", "305", "312", "713", "214", "303", "801", "213", "415", "206")

# category → (sku prefix, USD price range, product nouns, Chinese search words)
CATEGORIES: dict[str, tuple[str, tuple[float, float], tuple[str, ...], tuple[str, ...]]] = {
    "books": ("BOK", (8, 40), ("Mystery Novel", "Cookbook", "Travel Guide", "Poetry Collection", "Picture Book",
                               "Business Handbook", "History of Tea", "Sci-Fi Anthology"),
              ("小说", "菜谱", "旅行指南")),
    "electronics": ("ELE", (20, 400), ("Wireless Earbuds", "Smart Speaker", "Power Bank", "Fitness Tracker",
                                       "Bluetooth Keyboard", "Action Camera", "E-Reader", "Desk Lamp"),
                    ("蓝牙耳机", "充电宝", "智能手环")),
    "beauty": ("BEA", (6, 80), ("Face Cream", "Lip Balm", "Sunscreen", "Hair Oil", "Serum", "Body Lotion",
                                "Eye Palette", "Cleansing Foam"), ("面霜", "防晒", "精华")),
    "home": ("HOM", (10, 200), ("Throw Blanket", "Scented Candle", "Ceramic Vase", "Knife Set", "Bath Towel",
                                "Storage Box", "Coffee Grinder", "Cushion Cover"), ("抱枕", "香薰蜡烛", "收纳盒")),
    "sports": ("SPO", (10, 150), ("Yoga Mat", "Running Shoes", "Water Bottle", "Resistance Bands", "Cycling Gloves",
                                  "Tennis Balls", "Gym Bag", "Jump Rope"), ("瑜伽垫", "跑鞋", "运动水杯")),
    "toys": ("TOY", (8, 90), ("Building Blocks", "Puzzle", "Plush Bear", "Toy Train", "Art Kit", "Board Game",
                              "Kite", "Science Kit"), ("积木", "拼图", "桌游")),
    "grocery": ("GRO", (2, 30), ("Green Tea", "Coffee Beans", "Dark Chocolate", "Olive Oil", "Honey", "Granola",
                                 "Rice Noodles", "Dried Mango"), ("咖啡豆", "绿茶", "坚果")),
    "fashion": ("FAS", (15, 180), ("Linen Shirt", "Wool Scarf", "Denim Jacket", "Leather Belt", "Sneakers",
                                   "Rain Coat", "Silk Dress", "Beanie"), ("连衣裙", "围巾", "运动鞋")),
}
PRODUCT_ADJECTIVES: tuple[str, ...] = (
    "Classic", "Deluxe", "Eco", "Mini", "Pro", "Everyday", "Premium", "Compact", "Travel", "Organic", "Studio", "Lite",
)
EN_SEARCHES: tuple[str, ...] = (
    "headphones", "running shoes", "face cream", "building blocks", "coffee", "novel", "desk lamp", "yoga mat",
    "gift ideas", "sale", "new arrivals", "scarf",
)

REASONS: tuple[str, ...] = (
    "price", "missing_feature", "service", "product_quality", "competitor", "no_longer_needed", "other",
)

# What a leaving customer writes in a survey, ticket or complaint: reason → language → wordings.
REASON_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "price": {
        "en": ("Too expensive compared to other shops.", "Prices went up again and I can't justify it any more.",
               "The shipping fees make everything cost too much.", "I found the same items cheaper elsewhere.",
               "Your prices are simply too high for my budget.", "Without discounts it is just not worth the money.",
               "The membership fee is too high for what I use.",
               "Everything costs more than it used to; it's not affordable for me now."),
        "zh": ("价格太贵了，别家更便宜。", "又涨价了，实在负担不起。", "运费太高，算下来太贵。",
               "同样的东西别的地方便宜很多。", "价格超出我的预算了。", "没有优惠的话根本不值这个价。",
               "会员费太贵，不划算。", "最近价格涨得太厉害，性价比太低。"),
    },
    "missing_feature": {
        "en": ("The app still doesn't support the feature I need.",
               "I need a way to export my order history, and you don't offer it.",
               "No option for scheduled deliveries, which I really need.",
               "Missing basic features like a wishlist that syncs across devices.",
               "I asked for family sharing months ago; the feature is still not available.",
               "Your site lacks the filters I need to find things.",
               "Without an option to pause my plan the app doesn't work for me.",
               "The feature I signed up for was removed."),
        "zh": ("App还是不支持我需要的功能。", "没有导出订单记录的功能，很不方便。",
               "不能预约配送时间，这个功能我很需要。",
               "缺少基本功能，比如多设备同步的收藏夹。", "几个月前就提过要家庭共享功能，到现在还没有。",
               "网站缺少筛选功能，找东西太难了。", "希望增加暂停会员的功能，现在没有就只能走了。",
               "我当初注册就是为了那个功能，结果被下线了。"),
    },
    "service": {
        "en": ("Customer service never replied to my emails.", "I contacted support three times and nobody helped.",
               "The support agent was rude and unhelpful.", "Waited on hold for an hour and then got disconnected.",
               "My complaint was ignored; terrible customer service.",
               "Support kept sending me canned answers without solving anything.",
               "Nobody from your service team followed up as promised.",
               "The staff at the store were dismissive and unfriendly."),
        "zh": ("客服一直不回复我的邮件。", "联系了三次客服，都没人帮我解决。", "客服态度很差，也不专业。",
               "电话等了一个小时，最后还被挂断了。", "投诉了也没人理，服务太差了。",
               "客服只会发模板回复，问题一直没解决。",
               "说好会回电，结果再也没人联系我。", "门店店员态度冷淡，服务体验很差。"),
    },
    "product_quality": {
        "en": ("The item broke after two weeks of use.", "Quality has gone down a lot; the last order arrived damaged.",
               "The product was defective and stopped working.",
               "Poor quality material, it fell apart after one wash.", "The food was stale and past its best.",
               "Badly made; the stitching came apart immediately.", "Two of the three things I ordered were faulty.",
               "The quality is nothing like the photos; it feels flimsy."),
        "zh": ("东西用了两周就坏了。", "质量明显下降，上次收到的还是破损的。", "产品有质量问题，用不了。",
               "面料质量太差，洗一次就坏了。", "食品不新鲜，快过期了。", "做工粗糙，线头一扯就开。",
               "买的三件东西有两件是次品。", "实物和图片差太多，质量很差。"),
    },
    "competitor": {
        "en": ("I switched to another store that delivers faster.",
               "A competitor's app does everything I need, so I moved.",
               "I now do my shopping on a bigger marketplace instead.", "Found a different brand I like better.",
               "My friends all use another shop, so I moved there.",
               "Switched to a rival shop with a wider selection.",
               "Another company offered me a membership and I took it.", "I've moved over to a local shop nearby."),
        "zh": ("换到另一家店了，他们送货更快。", "别的App用起来更顺手，我就转过去了。", "现在都在大平台上买东西了。",
               "找到了一个更喜欢的品牌。", "朋友们都在用另一家，我也换过去了。", "转到竞争对手那边了，选择更多。",
               "另一家公司给了我会员，我就换了。", "现在改在家附近的小店买了。"),
    },
    "no_longer_needed": {
        "en": ("I don't need these products any more.", "We moved and no longer need the deliveries.",
               "My kids have grown up, so I no longer buy this.",
               "I was only buying for a one-off project that's finished now.",
               "Changed my lifestyle; I just don't use it these days.", "No longer need it after changing jobs.",
               "Bought what I needed; nothing else to buy for now.",
               "My circumstances changed and this isn't relevant to me now."),
        "zh": ("我已经不需要这些东西了。", "搬家以后就用不上了。", "孩子长大了，不再需要买这些了。",
               "当时只是为了一个项目买的，现在项目结束了。", "生活方式变了，最近用不着。", "换了工作，不再需要了。",
               "该买的都买了，暂时没有需要。", "情况变了，这些对我已经没用了。"),
    },
    "other": {
        "en": ("Personal reasons.", "I'm taking a break from online shopping for a while.",
               "Just trying to spend less time on my phone.", "Too many accounts; I'm tidying up.",
               "Going abroad for a year.", "It's complicated, nothing specific.",
               "My partner does the shopping now.", "Health issues; I may be back."),
        "zh": ("个人原因。", "想暂时减少网购。", "想少看点手机。", "账号太多了，在清理。", "要出国一年。",
               "说不清，没有具体原因。", "现在家里的购物都由我爱人负责。", "身体原因，以后可能会回来。"),
    },
}

# The short form a subscriber types into a cancellation box.
CANCEL_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "price": {"en": ("Too expensive", "Price increase", "Can't afford it right now", "Not worth the price",
                     "Found it cheaper elsewhere"),
              "zh": ("太贵了", "涨价了", "暂时负担不起", "不值这个价", "别处更便宜")},
    "missing_feature": {"en": ("Missing features I need", "The feature I need isn't available",
                               "Lacks an export option", "Needs family sharing", "A feature I used was removed"),
                        "zh": ("缺少需要的功能", "没有我要的功能", "不能导出数据", "希望有家庭共享功能",
                               "功能被下线了")},
    "service": {"en": ("Bad customer service", "Support never answered", "Rude support staff",
                       "Complaint not handled", "Slow support response"),
                "zh": ("客服太差", "客服不回复", "客服态度差", "投诉没人处理", "客服响应太慢")},
    "product_quality": {"en": ("Poor quality", "Items arrived damaged", "Defective products", "Quality dropped",
                               "Product broke quickly"),
                        "zh": ("质量差", "收到破损", "产品有缺陷", "质量下降", "很快就坏了")},
    "competitor": {"en": ("Switched to another provider", "Moved to a competitor", "Using a different app now",
                          "Prefer another brand", "Joined a rival shop"),
                   "zh": ("换了别家", "转到竞争对手", "改用别的App", "更喜欢另一个品牌", "加入了别家的会员")},
    "no_longer_needed": {"en": ("No longer needed", "Don't use it any more", "Circumstances changed",
                                "Project finished", "Nothing left to buy"),
                         "zh": ("不再需要", "用不上了", "情况变了", "项目结束了", "暂时不需要")},
    "other": {"en": ("Personal reasons", "Taking a break", "Going abroad", "Other", "Health reasons"),
              "zh": ("个人原因", "暂停一段时间", "出国了", "其他", "身体原因")},
}

# Endings that vary a complaint or a goodbye without changing what it says.
COMPLAINT_ENDINGS: dict[str, tuple[str, ...]] = {
    "en": ("", "", " Very disappointed.", " Please sort this out.", " Not happy at all."),
    "zh": ("", "", "非常失望。", "请尽快处理。", "很不满意。"),
}
GOODBYE_ENDINGS: dict[str, tuple[str, ...]] = {
    "en": ("", "", " Thanks anyway.", " Sorry to go.", " Maybe later."),
    "zh": ("", "", "谢谢。", "就这样吧。", "以后再说。"),
}

# Happy customers' reviews; they avoid the words the reasons use (service, price, quality).
POSITIVE_TEXTS: dict[str, tuple[str, ...]] = {
    "en": ("Fast delivery and everything arrived as described, very happy.", "Love the new arrivals, will buy again.",
           "My order arrived a day early. Brilliant!", "The app is easy to use and checkout was smooth.",
           "Five stars, exactly as described.", "Always reliable, my go-to shop.",
           "Lovely packaging and everything was perfect.", "Really pleased with my purchase, thank you!"),
    "zh": ("发货快，东西和描述一致，很满意。", "很喜欢新品，还会再来买。", "比预计早一天到货，太棒了！",
           "App很好用，结账很顺畅。", "五星好评，和描述一模一样。", "一直很靠谱，是我常逛的店。",
           "包装很用心，一切都很完美。", "非常满意这次购物，谢谢！"),
}
# Everyday tickets and small grumbles of customers who stay: (category, English, Chinese).
ROUTINE_TICKETS: tuple[tuple[str, str, str], ...] = (
    ("delivery", "Where is my parcel? Tracking hasn't updated.", "我的包裹到哪了？物流一直没更新。"),
    ("delivery", "Please change the delivery address on my order.", "请帮我修改订单的收货地址。"),
    ("billing", "Can I get an invoice for my last order?", "能给我开一张上次订单的发票吗？"),
    ("account", "How do I reset my password?", "怎么重置密码？"),
    ("orders", "Can I add an item to an order I just placed?", "刚下的订单还能加商品吗？"),
    ("delivery", "Do you ship to my postcode?", "请问能送到我这个地区吗？"),
)
MINOR_GRUMBLES: tuple[tuple[str, str, str], ...] = (
    ("delivery", "My parcel arrived two days late.", "包裹晚到了两天。"),
    ("delivery", "The courier left my package at the wrong door.", "快递员把包裹放错了门口。"),
    ("orders", "One item was missing from my order; it came later.", "订单少发了一件，后来补发了。"),
    ("delivery", "The box was dented, the contents were fine.", "箱子压扁了，里面东西还好。"),
    ("orders", "I was sent the wrong colour, exchanged now.", "发错了颜色，已经换好了。"),
)
# Where a reason-bearing ticket or complaint is filed.
REASON_CATEGORIES: dict[str, str] = {
    "price": "billing", "missing_feature": "product", "service": "support", "product_quality": "quality",
    "competitor": "account", "no_longer_needed": "account", "other": "account",
}
