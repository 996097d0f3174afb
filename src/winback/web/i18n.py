"""The dashboard's words in English and Chinese: `t(key, lang, **values)`, and which language a request wants."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT", "LANGUAGES", "STRINGS", "choose_language", "labels", "t"]

LANGUAGES = ("en", "zh")
DEFAULT = "en"

# key → (English, Chinese). Values in braces are filled by `t(..., name=value)`.
STRINGS: dict[str, tuple[str, str]] = {
    # layout
    "app.name": ("winback", "winback"),
    "nav.overview": ("Overview", "总览"),
    "nav.customers": ("Customers", "客户"),
    "nav.programmes": ("Programmes", "挽回计划"),
    "nav.tasks": ("Tasks", "任务"),
    "nav.menu": ("Menu", "菜单"),
    "nav.logout": ("Log out", "退出登录"),
    "nav.language": ("Language", "语言"),
    "nav.signed_in_as": ("Signed in as {name} ({role})", "已登录：{name}（{role}）"),
    "role.viewer": ("viewer", "只读"),
    "role.account_manager": ("account manager", "客户经理"),
    "role.marketer": ("marketer", "营销人员"),
    "role.admin": ("admin", "管理员"),
    # common
    "common.search": ("Search", "搜索"),
    "common.filter": ("Filter", "筛选"),
    "common.clear": ("Clear", "清除"),
    "common.any": ("Any", "全部"),
    "common.previous": ("Previous", "上一页"),
    "common.next": ("Next", "下一页"),
    "common.page": ("Page {page}", "第 {page} 页"),
    "common.none": ("—", "—"),
    "common.back": ("Back", "返回"),
    "common.yes": ("yes", "是"),
    "common.no": ("no", "否"),
    "common.when": ("When", "时间"),
    "common.what": ("What", "内容"),
    "common.state": ("State", "状态"),
    "common.count": ("Count", "数量"),
    "common.customer": ("Customer", "客户"),
    "common.programme": ("Programme", "计划"),
    "common.step": ("Step", "步骤"),
    "common.variant": ("Variant", "版本"),
    "common.channel": ("Channel", "渠道"),
    "common.interval": ("95 % interval {low} to {high}", "95% 区间 {low} 至 {high}"),
    "common.not_allowed": ("Your role ({role}) may not do this.", "您的角色（{role}）无权执行此操作。"),
    "common.done": ("Done.", "已完成。"),
    # errors
    "error.title": ("Something needs attention", "需要处理"),
    "error.not_found": ("Not found", "未找到"),
    "error.forbidden": ("Not allowed", "无权访问"),
    "error.go_overview": ("Go to the overview", "返回总览"),
    "error.no_scores": ("No scores yet: run `winback score` to score your customers, then reload this page.",
                        "尚无评分：请先运行 `winback score` 为客户评分，然后刷新本页。"),
    "error.bad_segment": ("The segment expression has a mistake: {message}", "细分表达式有误：{message}"),
    "error.bad_page": ("There is no such page number; showing the first page.", "没有该页码；已显示第一页。"),
    # overview
    "overview.title": ("Overview", "总览"),
    "overview.stages_now": ("Customers by lifecycle stage", "各生命周期阶段客户数"),
    "overview.stages_as_of": ("as scored on {date}", "评分日期 {date}"),
    "overview.stages_over_time": ("Stages over time", "阶段随时间变化"),
    "overview.chart_fallback": ("The chart needs JavaScript; the table below holds the same numbers.",
                                "图表需要 JavaScript；下表包含相同数据。"),
    "overview.value_at_risk": ("Value at risk", "风险价值"),
    "overview.value_at_risk_help": ("Expected value of customers likely to leave, per currency.",
                                    "可能流失客户的预期价值（按币种）。"),
    "overview.top_signals": ("Top warning signals this week", "本周主要预警信号"),
    "overview.top_signals_as_of": ("Top warning signals (scoring of {date})", "主要预警信号（{date} 评分）"),
    "overview.signals_basis": ("Among the {n} at-risk customers with the most value at risk.",
                               "统计范围：风险价值最高的 {n} 位风险客户。"),
    "overview.no_signals": ("No warning signals among at-risk customers.", "风险客户中暂无预警信号。"),
    "overview.running": ("Running programmes", "运行中的计划"),
    "overview.no_running": ("No programmes running yet: start one from a playbook.",
                            "暂无运行中的计划：从模板开始一个。"),
    "overview.start_one": ("Start a programme", "开始一个计划"),
    "overview.no_scores": ("No customers scored yet. Load your data (`winback ingest …`) and run `winback score`; "
                           "the stages, value at risk and signals appear here.",
                           "尚无客户评分。请导入数据（`winback ingest …`）并运行 `winback score`，"
                           "阶段、风险价值和信号将显示在这里。"),
    "overview.customers": ("customers", "位客户"),
    # stages
    "stage.new": ("New", "新客户"),
    "stage.active": ("Active", "活跃"),
    "stage.at_risk": ("At risk", "有流失风险"),
    "stage.dormant": ("Dormant", "休眠"),
    "stage.churned": ("Churned", "已流失"),
    "stage.reactivated": ("Reactivated", "已唤回"),
    "stage.none": ("Not scored", "未评分"),
    # customers
    "customers.title": ("Customers", "客户"),
    "customers.search_label": ("Customer id, email or name", "客户编号、邮箱或姓名"),
    "customers.stage": ("Stage", "阶段"),
    "customers.reason": ("Churn reason", "流失原因"),
    "customers.dormancy": ("Dormancy type", "休眠类型"),
    "customers.segment": ("Segment expression", "细分表达式"),
    "customers.segment_help": ("For example: clv > 200 and days_since_last_order > 60",
                               "例如：clv > 200 and days_since_last_order > 60"),
    "customers.sorted": ("Sorted by value at risk, highest first.", "按风险价值从高到低排序。"),
    "customers.showing": ("Showing {first}–{last}", "显示第 {first}–{last} 位"),
    "customers.empty": ("No customers match these filters. Clear a filter or search for something shorter.",
                        "没有符合条件的客户。请清除部分筛选条件或缩短搜索词。"),
    "customers.empty_store": ("No customers yet: load them with `winback ingest customers FILE.csv` "
                              "(or `winback demo` for a generated shop).",
                              "尚无客户：使用 `winback ingest customers FILE.csv` 导入"
                              "（或运行 `winback demo` 生成示例数据）。"),
    "col.id": ("Id", "编号"),
    "col.name": ("Name", "姓名"),
    "col.email": ("Email", "邮箱"),
    "col.stage": ("Stage", "阶段"),
    "col.p_churn": ("Churn risk", "流失概率"),
    "col.clv": ("Value (CLV)", "客户价值"),
    "col.value_at_risk": ("Value at risk", "风险价值"),
    "col.reason": ("Reason", "原因"),
    "col.dormancy": ("Dormancy", "休眠类型"),
    "col.last_order": ("Days since last order", "距上次下单天数"),
    # one customer
    "customer.title": ("Customer {id}", "客户 {id}"),
    "customer.not_found": ("There is no customer {id}. Search for them on the customers page.",
                           "没有客户 {id}。请在客户页面搜索。"),
    "customer.scores": ("Scores", "评分"),
    "customer.scored_on": ("Scored on {date}", "评分日期 {date}"),
    "customer.not_scored": ("This customer has not been scored yet: run `winback score`.",
                            "该客户尚未评分：请运行 `winback score`。"),
    "customer.why": ("Why", "原因分析"),
    "customer.signals": ("Warning signals", "预警信号"),
    "customer.no_signals": ("No warning signals.", "无预警信号。"),
    "customer.drivers": ("What drives the churn risk", "流失风险的主要因素"),
    "customer.stage_reason": ("Stage", "阶段说明"),
    "customer.dormancy_notes": ("Dormancy", "休眠说明"),
    "customer.reason_evidence": ("Evidence for the reason", "原因依据"),
    "customer.timeline": ("Timeline", "时间线"),
    "customer.timeline_empty": ("Nothing has happened for this customer yet.", "该客户暂无记录。"),
    "customer.tasks": ("Tasks", "任务"),
    "customer.no_tasks": ("No tasks for this customer.", "该客户暂无任务。"),
    "customer.contact": ("Contact", "联系方式"),
    "field.p_alive": ("Still a customer (probability)", "仍为活跃客户的概率"),
    "field.p_churn": ("Churn risk (90 days)", "流失概率（90 天）"),
    "field.clv": ("Customer lifetime value", "客户终身价值"),
    "field.value_at_risk": ("Value at risk", "风险价值"),
    "field.value_tier": ("Value tier", "价值等级"),
    "field.rfm_segment": ("RFM segment", "RFM 细分"),
    "field.n_orders": ("Orders", "订单数"),
    "field.revenue": ("Revenue", "收入"),
    "field.days_since_last_order": ("Days since last order", "距上次下单天数"),
    "field.cadence_days": ("Usual days between orders", "平均下单间隔（天）"),
    "field.churn_reason": ("Churn reason", "流失原因"),
    "field.dormancy_type": ("Dormancy type", "休眠类型"),
    "kind.order": ("Order", "订单"),
    "kind.event": ("Event", "事件"),
    "kind.message": ("Message", "消息"),
    "kind.engagement": ("Engagement", "互动"),
    "kind.feedback": ("Feedback", "反馈"),
    # programmes
    "programmes.title": ("Programmes", "挽回计划"),
    "programmes.new": ("New programme", "新建计划"),
    "programmes.empty": ("No programmes yet: start one from a playbook.", "暂无计划：从模板开始一个。"),
    "programmes.enrolled": ("Enrolled", "已加入"),
    "programmes.holdout": ("Holdout", "对照组"),
    "programmes.purchased": ("Bought", "已购买"),
    "programmes.started": ("Started", "开始时间"),
    "programmes.version": ("Version", "版本"),
    "state.draft": ("draft", "草稿"),
    "state.running": ("running", "运行中"),
    "state.paused": ("paused", "已暂停"),
    "state.stopped": ("stopped", "已停止"),
    # new programme
    "new.title": ("New programme", "新建计划"),
    "new.intro": ("Pick a shipped playbook or paste a programme file (YAML). Check it, look at the dry run, then "
                  "start it.", "选择内置模板或粘贴计划文件（YAML）。先校验，再查看预演，最后启动。"),
    "new.playbook": ("Playbook", "模板"),
    "new.choose": ("Choose a playbook…", "选择模板…"),
    "new.or_yaml": ("…or paste a programme file (YAML)", "…或粘贴计划文件（YAML）"),
    "new.validate": ("Check", "校验"),
    "new.dry_run": ("Dry run", "预演"),
    "new.start": ("Start the programme", "启动计划"),
    "new.need_source": ("Choose a playbook or paste a programme file first.", "请先选择模板或粘贴计划文件。"),
    "new.valid": ("{programme} is valid: {steps} steps.", "{programme} 校验通过：共 {steps} 个步骤。"),
    "new.invalid": ("The programme has a problem", "计划有问题"),
    "new.plan_title": ("Dry run of {programme}", "{programme} 的预演"),
    "new.audience": ("Audience", "目标人群"),
    "new.eligible": ("Eligible", "符合条件"),
    "new.treated": ("Will get messages", "将收到消息"),
    "new.holdout": ("Held out (get nothing, for measurement)", "对照组（不发送，用于衡量效果）"),
    "new.exclusions": ("Not eligible, and why", "不符合条件的原因"),
    "new.no_exclusions": ("Nobody excluded.", "无人被排除。"),
    "new.forecast": ("Forecast", "预测"),
    "new.extra_conversions": ("Extra buyers", "新增购买客户"),
    "new.extra_revenue": ("Extra revenue", "新增收入"),
    "new.sends_total": ("Messages in total", "消息总数"),
    "new.costs": ("Incentive cost", "优惠成本"),
    "new.assumptions": ("Assumptions", "假设"),
    "new.started": ("{programme} is running (version {version}): {enrolled} customers enrolled, {holdout} held out.",
                    "{programme} 已启动（版本 {version}）：{enrolled} 位客户加入，{holdout} 位进入对照组。"),
    "new.marketer_only": ("Only marketers and admins can start programmes; you can look at the dry run.",
                          "只有营销人员和管理员可以启动计划；您可以查看预演。"),
    # one programme
    "programme.not_found": ("There is no programme {id}. The programmes page lists them.",
                            "没有计划 {id}。请在计划列表中查看。"),
    "programme.status": ("Status", "状态"),
    "programme.reason": ("Why", "原因"),
    "programme.outcomes": ("How enrolments ended", "结束方式"),
    "programme.pause": ("Pause", "暂停"),
    "programme.resume": ("Resume", "恢复"),
    "programme.stop": ("Stop for good", "永久停止"),
    "programme.stop_confirm": ("Stop this programme? Stopped programmes cannot be restarted.",
                               "确定停止该计划？停止后无法重新启动。"),
    "programme.run_worker": ("Run the worker now", "立即运行发送任务"),
    "programme.run_worker_help": ("A demo convenience: runs every due step to the end on a simulated clock. "
                                  "In production `winback worker` runs all the time.",
                                  "演示用：以模拟时钟运行所有到期步骤直至结束。"
                                  "生产环境中由 `winback worker` 持续运行。"),
    "programme.worker_done": ("The worker ran from {start} to {end} (simulated clock): {sent} messages handed over.",
                              "发送任务已运行（模拟时钟 {start} 至 {end}）：共交付 {sent} 条消息。"),
    "programme.state_changed": ("The programme is now {state}.", "计划当前状态：{state}。"),
    "programme.lift": ("Lift against the holdout", "相对对照组的提升"),
    "programme.lift_help": ("Measured as of {date}: treated customers against the held-out group that got nothing.",
                            "截至 {date} 的测算：接受触达的客户与未触达的对照组对比。"),
    "programme.conversion_lift": ("Extra buyers (conversion rate)", "新增购买率"),
    "programme.revenue_lift": ("Extra revenue per customer", "人均新增收入"),
    "programme.incremental_conversions": ("Extra conversions", "新增转化"),
    "programme.incremental_revenue": ("Extra revenue", "新增收入"),
    "programme.significant": ("The difference is statistically significant.", "差异具有统计显著性。"),
    "programme.not_significant": ("Not yet distinguishable from no effect; the interval says how large it may be.",
                                  "尚无法与无效果区分；区间显示可能的效果范围。"),
    "programme.groups": ("{treated} treated, {holdout} held out", "触达 {treated} 人，对照 {holdout} 人"),
    "programme.funnel": ("Funnel per step and variant", "各步骤及版本的漏斗"),
    "programme.no_funnel": ("Nothing sent yet. The worker sends due steps; press “Run the worker now” for a demo.",
                            "尚未发送。发送任务会处理到期步骤；演示时可点击“立即运行发送任务”。"),
    "programme.no_enrolments": ("Nobody enrolled yet, so there is nothing to measure.",
                                "尚无客户加入，暂无可衡量的数据。"),
    "programme.roi": ("Return on cost", "投资回报率"),
    "f.recipients": ("Recipients", "收件人"),
    "f.sent": ("Sent", "已发送"),
    "f.delivered": ("Delivered", "已送达"),
    "f.opens": ("Opens", "打开"),
    "f.clicks": ("Clicks", "点击"),
    "f.unsubscribes": ("Unsubscribes", "退订"),
    "f.conversions": ("Conversions", "转化"),
    "f.revenue": ("Revenue", "收入"),
    "f.skipped": ("Skipped", "跳过"),
    "f.failed": ("Failed", "失败"),
    # tasks
    "tasks.title": ("Tasks", "任务"),
    "tasks.intro": ("Open calls for account managers, by due date and value at risk.",
                    "客户经理待办的联系任务，按截止日期和风险价值排序。"),
    "tasks.mine": ("Only mine", "只看我的"),
    "tasks.all": ("Everyone's", "全部"),
    "tasks.empty": ("No open tasks. Programmes with a task step (for example the b2b-account-recovery playbook) "
                    "create them.", "暂无待办任务。包含任务步骤的计划（例如 b2b-account-recovery 模板）会创建任务。"),
    "tasks.due": ("Due", "截止"),
    "tasks.overdue": ("overdue", "已逾期"),
    "tasks.assignee": ("Assignee", "负责人"),
    "tasks.unassigned": ("unassigned", "未分配"),
    "tasks.assign_me": ("Assign to me", "分配给我"),
    "tasks.mark_done": ("Mark done", "标记完成"),
    "tasks.note": ("Note (optional)", "备注（可选）"),
    "tasks.assigned": ("Task {id} is yours.", "任务 {id} 已分配给您。"),
    "tasks.completed": ("Task {id} is done.", "任务 {id} 已完成。"),
}


def t(key: str, lang: str, **values: object) -> str:
    """The text of `key` in `lang` (English when unknown), with `{name}` placeholders filled from `values`."""
    pair = STRINGS.get(key)
    if pair is None:
        return key  # a missing key shows itself rather than failing the page; a test checks none is missing
    text = pair[1] if lang == "zh" else pair[0]
    return text.format(**values) if values else text


def choose_language(*, query: str | None, cookie: str | None, user: str | None,
                    accept: str | None) -> str:
    """`?lang=`, then the `wb_lang` cookie, then the user's language, then the browser's Accept-Language."""
    for value in (query, cookie, user):
        if value in LANGUAGES:
            return value
    return _from_accept(accept or "")


def _from_accept(header: str) -> str:
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((q, tag.strip().lower()[:2]))
    for _, tag in sorted(ranked, key=lambda x: -x[0]):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


def labels(keys: Mapping[str, str], lang: str) -> dict[str, str]:
    """Several texts at once, for the JavaScript side (`{name: key}` → `{name: text}`)."""
    return {name: t(key, lang) for name, key in keys.items()}
