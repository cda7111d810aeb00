"""Judge a role-play reply by what it does at this turn, not by the words it happens to use.

Three layers, each a pure function of the reply, the scenario turn and the model file:

1. `analyse` reads the reply's structure in either language: which questions it
   asks and at which SPIN stage (situation, problem, implication, need-payoff,
   or a control question: confirming, the two-choice close), whether an
   acknowledgement is followed by a contradiction, a rhetorical or insulting
   question, a pitch before any question, how specific its proof is (a named
   reference, numbers, a trial, a visit), how concrete its next step is.
2. `rubric` turns that into 7/5/3 per criterion with a finer score inside each
   band, judged against what the turn is for (`TurnContext`: the stage due, from
   the scenario turn's `assess` and `focus`). Stock phrases are neutral alone.
3. A pairwise model (logistic regression on feature differences, RankSVM-style,
   trained on the `train` split of `roleplay_pairs.tsv`) scores the reply over
   tf-idf tokens and the structural features; it orders replies the rubric
   leaves level, and where it disagrees with the rubric the judge says it is
   unsure. Its weights ship as `models/roleplay.npz` (`build_default` rebuilds
   them byte for byte).

An optional LLM judge (`LlmRoleplayJudge`) scores each criterion with a quoted
span of the reply; any failure falls back to the local judgement.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from playbooks.loader import DEFAULT_DIR as DEFAULT_PLAYBOOKS
from playbooks.schema import RUBRIC_SCORES, Scenario
from understanding.llm import ChatEndpoint
from understanding.text import language_of, normalise, tokens

log = logging.getLogger(__name__)

OUTSTANDING, SATISFACTORY, NEEDS_WORK = RUBRIC_SCORES
CRITERIA = ("attitude", "questioning", "substance", "advance", "clarity")
MODEL_PATH = Path(__file__).parent / "models" / "roleplay.npz"
PAIRS_FILE = DEFAULT_PLAYBOOKS / "corpus" / "roleplay_pairs.tsv"
BAND = 0.45
"""How far inside its 7/5/3 band a criterion's fine score may move: never across."""
NEAR_CALL = 0.75
"""The rubric's lean and the model's evidence pushing this hard towards the next band up or
down make a criterion a near call (about one training reply in ten)."""
DISAGREE_AT = 1.5
"""The learned score this far against the rubric's verdict makes the judge unsure."""
KNOWN_SHARE = 0.35
"""A reply with fewer of its tokens known to the model than this is unusual wording."""

Floats = npt.NDArray[np.float64]


# ----- what the turn is for -----------------------------------------------------------------


@dataclass(frozen=True)
class TurnContext:
    """One turn of one scenario: what it judges and which SPIN stage is due."""

    scenario: str
    turn: int
    assess: tuple[str, ...]
    criteria: tuple[str, ...]  # the scenario's: a slip on any of them counts at any turn
    focus: tuple[str, ...]
    stage: str  # opening | situation | problem | implication | proof | close
    names: frozenset[str] = frozenset()  # the customer's own names: never a reference

    @property
    def confirm_ok(self) -> bool:
        """Whether a confirming (closed) question is what the method asks for here."""
        return "confirming_question" in self.focus or self.stage in ("close", "opening")

    @property
    def choice_ok(self) -> bool:
        """Whether the two-choice close is what the method asks for here."""
        return "next_step_options" in self.focus or self.stage == "close"


_NAME_EN = re.compile(r"\b[A-Z][a-z]{1,}\b")
_ORG_ZH = re.compile(r"[\u4e00-\u9fff]{2,4}(?=(?:物流|机械|集团|食品|零售|制药|电子|五金))")


def _names(scenario: Scenario) -> frozenset[str]:
    found = set()
    for text in (scenario.persona.en, scenario.customer.en):
        found |= {word.lower() for word in _NAME_EN.findall(text)}
    for text in (scenario.persona.zh, scenario.customer.zh):
        found |= set(_ORG_ZH.findall(text))
        found.add(scenario.customer.zh)
    return frozenset(found)


def context_for(scenario: Scenario, turn: int) -> TurnContext:
    """The context of the trainee's reply number `turn` (1-based)."""
    if not 1 <= turn <= len(scenario.turns):
        raise ValueError(f"{scenario.id} has turns 1–{len(scenario.turns)}, not {turn}")
    step = scenario.turns[turn - 1]
    probing = [i for i, t in enumerate(scenario.turns, 1) if "probing_question" in t.focus]
    if "probing_question" in step.focus:
        stage = "problem" if turn == probing[0] else "implication"
    elif {"open_question", "question"} & set(step.focus):
        stage = "situation"
    elif "advance" in step.assess and "next_step_options" in step.focus:
        stage = "close"
    elif "substance" in step.assess:
        stage = "proof"
    else:
        stage = "opening"
    return TurnContext(
        scenario=scenario.id,
        turn=turn,
        assess=tuple(step.assess),
        criteria=tuple(scenario.criteria),
        focus=tuple(step.focus),
        stage=stage,
        names=_names(scenario),
    )


# ----- reading the reply ----------------------------------------------------------------------


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{part})" for part in parts))


_SENTENCE = re.compile(r"(?<=[?!;。\n])|(?<=\.\.\.)|(?<=\.)(?=\s)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# fmt: off
# A contrast that turns a reply ("I understand, but…", "理解，但是…").
CONTRAST = _rx(
    r"\bbut\b", r"\bhowever\b", r"\bthough\b", r"\bstill,", "但是", "但", "可是", "不过",
)

# Stock acknowledgements: neutral on their own.
ACK = _rx(
    r"\bi (?:totally |really |completely )?(?:understand|see|hear you|get (?:it|that|why))\b",
    r"\bunderstood\b", r"\bthanks?\b", r"\bthank you\b", r"\bappreciate\b",
    r"\b(?:good|great|fair) (?:point|question)\b", r"\byou'?re right\b", r"\byou are right\b",
    r"\bmakes sense\b", r"\bno problem\b", r"\bof course\b", r"\bgot it\b", r"\bi know, i know\b",
    r"\bfair enough\b", "理解", "明白", "谢谢", "感谢", "您说得对", "您说的对", "有道理", "问得好",
    "没问题", "我知道", "听见了", "没错",
)
# Signs of having taken in what the customer said, beyond a stock phrase.
EMPATHY = _rx(
    r"\bno wonder\b", r"\bi'?d be (?:angry|wary|upset|the same|fed up|careful)",
    r"\bi wouldn'?t (?:be|expect)", r"\banyone would\b", r"\bnobody wants\b",
    r"\byou'?ve (?:every|all the) right\b",
    r"\bthat'?s (?:awful|frustrating|lousy|a lousy|rough|not ok)", r"\b(?:is|was) frustrating\b",
    r"\bi'?d be wary\b", r"\bsensible\b", r"\byou'?re right to\b", r"\bcompletely fair\b",
    r"\bthat'?s (?:reasonable|fair|understandable)\b", r"\b(?:a )?fair (?:worry|doubt|concern)\b",
    r"\bwords are cheap\b", r"\bi get why\b",
    r"\bi'?m not (?:here to|going to) (?:badmouth|argue|sell|push)", r"\bi won'?t push\b",
    r"\bnot selling\b", r"\bno pressure\b", r"\bi'?m not asking you to buy\b",
    r"\bnot trying to find faults\b", r"\bdon'?t take my word\b",
    r"\byou (?:shouldn'?t|should not) just believe\b", r"\bnothing'?s on fire\b",
    r"\byou know best\b", r"\bclearly doing\b", r"\bdoing a lot right\b",
    r"\bsolid (?:routine|base)\b", r"\bknows its way\b", "换谁", "搁谁", "换我", "谁家", "谁都",
    "难怪", "很正常", "挺正常", "不容易", "窝火", "是应该的", "谨慎是对", "可以理解", "完全应该",
    "不怪您", "确实很糟", "确实让人", "不硬推", "不追着问", "不推销", "不卖新的", "不是来挑",
    "不是来劝", "不用现在决定", "您说了算", "我信您", "不该信", "光听我说", "这个问题很实在",
    "这个疑问很正常", "有这个顾虑", "有这个疑问", "顾虑有道理", "担心的有道理", "是本事",
    "肯定有原因", "说明单位", "很照顾", "没到火烧眉毛", "不着急下结论", "不急着下结论", "我不回避",
)
RESTATE = _rx(
    r"^so (?:each|every|you|the|it|that|costs|if)\b", r"\byou mentioned\b", r"\byou said\b",
    r"\bsounds like\b", r"\bfrom what you said\b", r"\bif i understand\b", r"\bin other words\b",
    r"\bwhat i'?m hearing\b", r"\byou'?re getting by\b", r"\bevery site does its own\b",
    "也就是说", "也就是", "您刚才说", "刚才您说", "您也说了", "您说的", "您提到", "听起来",
    "根据您讲的", "按您说的", "根据您说的", "针对您说的", "您的意思是", "我记得您", "就是说",
    "照您这么说",
)
APOLOGY = _rx(r"\bsorry\b", r"\bapologi[sz]e\b", r"\bapologies\b", "对不起", "抱歉", "不好意思")
HUMOUR = _rx(
    r"\bhaha\b", r"^ha\b", r"\bha,", r"\bnice problem to have\b", r"\bhalf the street\b", "哈哈",
    "^哈", "大卖",
)
RESPECT_TIME = _rx(
    r"\bi'?ll (?:be quick|be brief|keep it)", r"\bkeep it (?:short|brief|to)", r"\bone minute\b",
    r"\bsixty seconds\b", r"\bi won'?t (?:keep|hold)", r"\byou'?re (?:busy|flat out)\b",
    r"\bquick one\b", r"\bshort version\b", r"\bbefore (?:a|your) meeting\b",
    r"\bafter your meeting\b", r"\byou'?ve got a meeting\b", r"\bi know you'?re busy\b",
    r"\bten minutes\b", r"\bquieter time\b", "不耽误", "长话短说", "一分钟", "半分钟", "就一句",
    "就问一句", "问一句", "不添乱", "知道您忙", "您忙", "不占您", "十分钟", "不多说", "不忙的时候",
    "不忙", "清静",
)
ARGUE = _rx(
    r"\bthat'?s not true\b", r"\bnot true\b", r"\byou'?re wrong\b", r"\byou are wrong\b",
    r"\bi disagree\b", r"\ban excuse\b", r"\bjust an excuse\b", r"\bthat'?s not fair\b",
    r"\byou can'?t judge\b", r"\bto be fair, it'?s\b", r"\bpartly your\b",
    r"\bapples and oranges\b", r"\bthere'?s always money\b",
    r"\byou don'?t (?:understand|realise|realize|get it)\b", r"\bno need to check\b",
    r"\bi'?m sure it renews\b", r"\beveryone needs\b", r"\bhow can you say\b",
    r"\bnot really covered\b", r"\bisn'?t the same as having good\b",
    r"\bdoesn'?t cover everything, you know\b", r"\bi'?ve (?:told|shown) you everything\b",
    "(?:说|想|比|讲|看)(?:得|的)?(?:就)?不对", "(?:想法|观点|看法|算法)不对", "^不对", "您错了",
    "你错了", "借口", "不公平", "不能因为", "不可能不", "怎么可能", "哪有", "谁还用", "不用查",
    "肯定快到期", "您这是", "您这么想", "不是这样", "不是所有", "不够的", "是不够", "还得买",
    "没办法了", "不是我说", "恕我直言", "您这话说的", "我都说这么多",
)
DEFENSIVE = _rx(
    r"\bi'?m (?:not like|different|totally different)\b",
    r"\bwe'?re (?:different|completely different)\b", r"\bnot all agents\b", r"\bi promise\b",
    r"\bi really do mean it\b", r"\bi can assure you\b", r"\bwe'?re telling the truth\b",
    r"\bi'?m very reliable\b", "我就不会", "跟他不一样", "真不一样", "完全不一样", "都是真的",
    "不会骗您", "又不是骗子",
)
SARCASM = _rx(
    r"\bare you (?:really )?(?:saying|telling me)\b", r"\bcan'?t (?:even|find that)\b",
    r"\bdon'?t you (?:think|care|know|see|realise|realize)\b",
    r"\bwhat more do you (?:want|need)\b", r"\bwhich planet\b", r"\bare you serious\b",
    r"\bseriously\b", r"\bwhat did you expect\b", r"\byou don'?t even know\b", r"^so what\b",
    r"\bso what\?", r"\bi bet you\b", r"\bare you (?:really )?(?:happy|sure)\b",
    r"\bor have you just\b", r"\bnot seen anything better\b",
    r"\bwhy not (?:start|sign|buy|just)\b", r"\bno reason to wait\b", r"\bpeanuts\b",
    r"\blittle money\b", r"\bbeing difficult\b", r"\bdefinition of\b", r"\bwhat real\b",
    r"\bobviously\b", r"\beveryone knows\b", r"\banyone can see\b", r"\bbasically useless\b",
    r"\bold-fashioned\b", r"\boutdated\b", r"\brubbish\b", r"\blol\b", "是不是连", "连.{0,10}都",
    "难道", "您懂什么", "你懂什么", "到底想要什么", "还不放心", "您确定", "是不是只是",
    "没发现问题", "就不担心", "够干嘛", "都不知道", "不清楚啊", "没见过更好", "没算过账",
    "没意识到", "没看懂", "难沟通", "那点钱", "这点钱", "拿不出", "淘汰", "落后", "摆设",
    "大家都知道", "明摆着", "还用问", "外行", "呵呵", "这样可不行", "可不行", "有多严重", "谁还",
)
BLAME = _rx(
    r"\bnot (?:my|our) fault\b", r"\bnot from our branch\b", r"\bthat'?s his problem\b",
    r"\bhis fault\b", r"\bterrible\b", r"\buseless\b", r"\blazy\b", r"\bhiding costs\b",
    r"\bcheap and nasty\b", r"\bbadly run\b", "不靠谱", "很差", "保得很差", "便宜没好货", "藏起来",
    "不思进取", "不关我", "不是我的", "都怪", "管理确实有问题", "他个人的问题",
)
PRESSURE = _rx(
    r"\bsign (?:today|now)\b", r"\bsign today\b", r"\bjust sign\b", r"\bshould sign\b",
    r"\byou must\b", r"\byou really should\b", r"\byou should (?:switch|sign|buy|at least)",
    r"\byou need (?:our|to make time|commercial|extra)", r"\btoday only\b",
    r"\bbefore it'?s too late\b", r"\btoo late\b", r"\bdon'?t wait\b",
    r"\byou'?ll (?:regret|be sorry)\b", r"\bregret it\b", r"\block the rate\b", r"\blast chance\b",
    r"\bmoney lost\b", r"\buntil they lose money\b", r"\btaking a big risk\b",
    r"\bpremiums go up\b", r"\bwhen it crashes\b", r"\babout to fail\b", r"\blet me replace it\b",
    r"\bmake time for insurance\b", r"\bmost important thing\b", "必须", "今天就(?:签|定|买|决定)",
    "今天(?:必须|一定)", "今天定", "今天签", "赶紧", "后悔", "过了这个村", "只限", "再不买",
    "吃亏的是您", "就晚了", "锁定", "早该换", "早点换", "不然又", "得买", "多亏一个月",
    "随时可能崩", "出了事", "出事就晚", "再忙也得", "就没了", "您的损失", "给您换掉", "签个意向",
    "带合同", "马上签",
)
OVER_PROMISE = _rx(
    r"\bguarantee[ds]?\b", r"\b100\s*%", r"\bzero (?:risk|errors?)\b", r"\brisk-free\b",
    r"\bno risk\b", r"\bdefinitely\b", r"\btrust me\b", r"\b(?:we'?re|is|are) the best\b",
    r"\bthe best (?:packages?|price|support|agent|in)\b", r"\bbest price\b", r"\bbiggest\b",
    r"\bno\.\s?1\b", r"\bnumber one\b", r"\bfixes everything\b", r"\bnever regret\b",
    r"\bwill never\b", r"\bi'?ll never\b", r"\balways (?:deliver|satisfied)",
    r"\beveryone approves\b", r"\bwill (?:definitely )?agree\b", r"\bpays for itself\b", "保证",
    "保准", "绝对", "百分之百", "零风险", "零出错", "没有风险", "最好", "最大", "最低", "最全",
    "全部解决", "所有问题", "彻底解决", "一定能", "肯定能", "肯定同意", "肯定让您满意", "肯定满意",
    "相信我", "不后悔", "行业领先", "五百强", "多项专利", "从来没有投诉", "真的最好", "全市最",
    "全省最",
)
PITCH = _rx(
    r"\bwe have (?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|many) "
    r"(?:\w+ )?(?:product lines|plans|features|packages|products|things|modules)",
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) "
    r"(?:product lines|plans|features|packages|modules)\b",
    r"\blet me (?:walk you through|tell you about|go through them|show you our|show you what real|"
    r"present|introduce)",
    r"\bwalk you through (?:each|them|all)",
    r"\bour (?:\w+ )?(?:system|platform|product|solution|package|suite|packages|plan|products) "
    r"(?:has|is|includes|offers|fixes|can)",
    r"\bi (?:want|would like|'d like) to (?:present|introduce)", r"\bintroduce (?:some of )?our\b",
    r"\babout our (?:fantastic|new)", r"\bour new (?:\w+ )?(?:plan|product|package)",
    r"\bwhich package\b", r"\bhuaxin (?:has|is)\b", r"\bwe are a \w+ company\b",
    r"\bour (?:telecom )?services\b", r"\bintroduce our company\b", r"\bour company history\b",
    r"\bbusiness solutions\b", r"\bcompetitive\b",
    "我们的(?:产品|系统|套餐|方案|集团套餐|平台)(?:有|是|能|可以|功能)",
    "[几一二两三四五六七八九十百\\d]+大(?:功能|产品线|险种|产品)",
    "有[几一二两三四五六七八九十\\d]+(?:大|个|种|多个)?(?:功能|产品线|险种|模板)",
    "(?:给您|先给您|给你)(?:介绍|演示|讲)", "挨个", "一项项", "一个个介绍", "介绍一下我们",
    "介绍一下(?:我们|我们的)?(?:产品|业务|保险)", "我们的产品有", "我们公司是", "我们公司的产品",
    "带来了我们", "升级到我们", "买我们的", "我们的新产品", "新产品", "商户综合险", "重疾险",
    "我们的套餐", "我们的服务也", "价格也有优势", "很有竞争力", "从头讲起", "公司的背景",
    "了解一下我们的系统",
)
# Proof that says nothing checkable.
GENERIC_CLAIM = _rx(
    r"\b(?:our )?(?:customers|clients) are (?:all |always |generally |very )*(?:happy|satisfied)",
    r"\bhappy clients\b", r"\bpositive feedback\b", r"\btrusted name\b", r"\breliable company\b",
    r"\blots? of experience\b", r"\bmany (?:big )?companies\b", r"\bworked with lots\b",
    r"\bhappy with the results\b", r"\breally care\b", r"\byou get what you pay for\b",
    r"\bprice reflects\b", r"\bmore protection\b", r"\bvery good service\b", r"\bevens out\b",
    r"\bmore included\b", "都很满意", "好评", "口碑", "实力很强", "大公司", "做了很多年",
    "服务过很多", "反馈都不错", "普遍都比较满意", "一分钱一分货", "服务更好", "保障更全面",
    "多一份保障", "是有原因的", "差不了多少", "其实是划算", "做了不少项目", "成立十二年",
)
VERIFIABLE = _rx(
    r"\b(?:call|ring|phone|speak to|talk to|ask) (?:him|her|them|mr|ms|mrs)\b",
    r"\bring (?:her|him)\b", r"\bcan ring\b", r"\bwho you can call\b",
    r"\bchoose who(?:ever)? (?:to call|you like)\b", r"\bcall them (?:yourself|without)",
    r"\bphone numbers?\b", r"\bnumbers? (?:for|of)\b", r"\bcontact for\b", r"\btake your call\b",
    r"\b(?:check|verify) (?:every line|me|it|them)\b", r"\bcan check\b", r"\baudit\b",
    r"\bcalculation\b", r"\bsheet is here\b", r"\bon one sheet\b", r"\bdelivery (?:log|record)\b",
    r"\bon-time rates\b", r"\bcompany hotline\b", r"\bstaff number\b", r"\bshare the numbers\b",
    r"\bget you their\b", r"\bcustomer list\b", r"\bclient list\b",
    r"\breference (?:on this list|he can call)\b",
    r"\bpayback (?:figures|numbers|sheet|calculation)\b", r"\bfigures from\b",
    r"\btheir (?:figures|numbers|data|bills)\b",
    r"\b(?:against|from) (?:the |our |your )?(?:company'?s )?records\b",
    r"\bthe (?:numbers|figures|calculation|comparison)\b", "打电话", "打给", "电话", "核实",
    "核一下", "核账", "查证", "名单", "数据", "账单", "交付记录", "测算", "对一对", "摆一起",
    "发票", "工号", "客服", "数据带来", "把数据给您", "对比数据", "回本数据", "当着您的面",
)
TRIAL = _rx(
    r"\btrial\b", r"\bpilot\b", r"\btest it small\b", r"\brun it at one\b",
    r"\bstart (?:at|with) one\b", r"\ba month at one\b",
    r"\bone (?:building|plant|line|site) (?:this year|for a month)", r"\bonly pay if\b",
    r"\bphase it\b", r"\b(?:in )?two (?:stages|phases)\b", r"\btwo-phase\b", r"\bspread it over\b",
    "试用", "试点", "先试", "小范围", "分两期", "分期", "只花",
)
VISIT = _rx(
    r"\bsee it (?:running|yourself)\b", r"\bcome and see\b",
    r"\bseeing it (?:yourself|for real)\b", r"\btake you to\b", r"\bvisit (?:to )?a customer\b",
    r"\binstall at\b", r"\bline (?:in|at)\b", "现场", "参观", "亲眼", "亲自去看", "车程", "那条线",
)
EXAMPLE = _rx(
    r"\bfor example\b", r"\bfor instance\b", r"\bsuch as\b",
    r"\blike (?:cancer|imported|a supplier|ordering)", r"\bthink of it\b", r"\bfirst layer\b",
    r"\bthings like\b", "比如", "例如", "打个比方", "好比", "就像", "一楼", "第一道门", "像佳和",
    "像一些",
)
BENEFIT = _rx(
    r"\bsav(?:e|ed|es|ing)\b", r"\bcut (?:call |phone |their |your )?costs?\b", r"\bcosts? down\b",
    r"\bunder control\b", r"\bfor free\b", r"\bfree\b", r"\bno (?:charge|obligation|commitment)\b",
    r"\bhelp you\b", r"\bbe useful for you\b", r"\blower\b", r"\bpaid back\b", r"\bpayback\b",
    r"\bpay(?:s)? back\b", r"\bone (?:bill|view|account)\b", r"\bgaps?\b", r"\bwhat's covered\b",
    r"\bwhat (?:it|your policy) covers\b", r"\bwhere the time goes\b", r"\bfrom a week to a day\b",
    r"\b(?:be )?cut\b", r"\bup to date\b", r"\bpaid up\b", "省", "降", "免费", "帮您", "对您",
    "回本", "划算", "一张账单", "统一", "缺口", "空白", "保什么", "不买也", "有用", "方便",
    "不冲突", "补这一块", "管这块",
)
# A concrete action for the next step.
PROPOSAL = _rx(
    r"\bmeet\b", r"\bmeeting\b", r"\bcome (?:by|back|to you|in|and)\b", r"\bdrop (?:back|by|in)\b",
    r"\bswing by\b", r"\bvisit\b", r"\bbring\b", r"\bshow you\b", r"\bring back\b",
    r"\bcall (?:you|back)\b", r"\breview\b", r"\btrial\b", r"\bpilot\b", r"\btest it\b",
    r"\bstart (?:at|with|either)\b", r"\bstarting\b", r"\bwalk (?:him|the cfo|you) through\b",
    r"\bsee the cfo\b", r"\bsit down\b", r"\blook at it together\b", r"\bgo through\b",
    r"\bput me in touch\b", r"\bspend half an hour\b", r"\b\d+ minutes\b", r"\btwenty minutes\b",
    r"\bmap what'?s covered\b", r"\bget together\b", r"\bbook\b", r"\btake you to\b",
    r"\bhold two slots\b", r"\bshall we\b", r"\bi'?ll put together\b", r"\bget it to you\b",
    r"\bhave it to you\b", r"\bsend (?:you )?a timeline\b", r"\bi could come\b", r"\bi can come\b",
    "见面", "拜访", "过来", "过去", "带过来", "带来", "带去", "给您看", "约", "评审会", "一起去",
    "一起看", "一起算", "试点", "试用", "先试", "再来", "上门", "聊聊", "聊半小时", "见他", "去找",
    "安排", "开始", "带个", "送过来", "过一遍", "梳理", "帮您看", "理一遍", "一小时", "一个小时",
    "半小时", "二十分钟", "十五分钟", "通个电话", "发您", "打给您",
)
TIME = _rx(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", r"\btomorrow\b", r"\btonight\b",
    r"\bthis (?:week|evening|morning|afternoon|month)\b", r"\bnext (?:week|month|\w+day)\b",
    r"\bthe \d{1,2}(?:st|nd|rd|th)\b", r"\b\d{1,2}(?:st|nd|rd|th)\b",
    r"\b\d{1,2}(?::\d\d)?\s*(?:am|pm)\b", r"\bat \d{1,2}(?::\d\d)?\b", r"\b\d{1,2}:\d\d\b",
    r"\bafter closing\b", r"\bbefore you open\b",
    r"\b(?:tues|wednes|thurs|fri|satur|sun|mon)day (?:at|morning|afternoon|evening)\b",
    r"\b(?:morning|afternoon|evening)\b", r"\bby (?:friday|thursday|monday)\b",
    r"\bor (?:4|10|3|2)\b", "周[一二三四五六日天末]", "星期", "礼拜", "明天", "今天", "今晚",
    "明早", "这周", "下周", "本周", "\\d{1,2}\\s*[号日]",
    "[一二三四五六七八九十]{1,3}[号日](?!子)", "\\d{1,2}\\s*点",
    "[一二两三四五六七八九十]{1,3}点(?![儿钱])", "上午", "下午", "晚上", "早上", "关门后",
    "开门前", "几点以后",
)
OPTION = _rx(
    r"\bor\b", r"\beither\b", r"\bwhichever\b",
    r"\bwhich (?:day|time|one|would|sounds|works|suits)\b", "还是", "或者", "或", "哪个", "哪天",
    "挑一天",
)
PASSIVE = _rx(
    r"\blet me know\b", r"\bcall me\b", r"\bgive me a call\b", r"\bkeep us in mind\b",
    r"\bi'?ll be in touch\b", r"\bif (?:things|anything) (?:change|comes up)\b",
    r"\bif you (?:ever|change)\b", r"\bhere'?s my (?:card|number)\b",
    r"\bi'?ll send you (?:some|more|a brochure|something)", r"\bsend you a brochure\b",
    r"\bsend over\b", r"\bemail it to you\b", r"\bi'?ll follow up\b", r"\btake it from there\b",
    r"\bat some point\b", r"\bsometime\b", r"\banother time\b", r"\bi'?ll call you in\b",
    r"\bwhen you (?:have|get) (?:time|a chance)\b", r"\bwhat suits\b",
    r"\bi'?m always available\b", r"\bleave a leaflet\b", "有需要", "随时", "再联系", "回头再说",
    "改天", "留个电话", "名片", "看着办", "考虑考虑", "明年再说", "明年初", "找时间", "找机会",
    "有空的时候", "什么时候方便", "等您找到了", "发给您看", "资料发您", "回去再研究", "那就先这样",
    "那就听您的", "不打扰您", "发您邮箱",
)
PURPOSE = _rx(
    r"\b(?:one|two|three|four) (?:things|points)\b", r"\bthree points\b", r"\bmainly two\b",
    r"\bjust one thing\b", r"\bone thing\b", r"\bagenda\b", r"\bpurpose\b",
    r"\bi'?d like to (?:use|understand|get|do|hear)\b", r"\btoday is (?:mostly )?for\b",
    r"\bin one line\b", r"\bshort version\b", r"\bput simply\b", r"\bstraight answer\b",
    r"\bthe issue:", r"\bwhere it runs out\b", r"\bit'?s about cost\b",
    r"\bphone bills, basically\b", "[一二两三]件事", "[二两三]点", "两块", "一是", "二是", "首先",
    "先说", "一句话", "就一件事", "今天想", "主要想", "今天主要", "目的", "主要是话费", "就一句",
    "简单说", "直接回答", "说问题",
)

# Questions: a sentence that asks.
QUESTION_END = re.compile(r"(?:\?|吗|呢|么)\s*$")
QUESTION_START_EN = re.compile(
    r"^(?:what|how|why|which|when|where|who|could|would|can|do|did|does|is|are|have|has|"
    r"may|shall|should|will|tell me|walk me through)\b"
)
QUESTION_ZH = _rx(
    "请问", "想问", "是不是", "有没有", "怎么", "什么", "哪", "多少", "多久", "为什么", "能不能",
    "可不可以", "会不会", "要不要", "([\u4e00-\u9fff])不\\1",
)
OPEN_Q = _rx(
    r"\b(?:what|how|why|which|who|when|where)\b", r"\btell me\b", r"\bwalk me through\b",
    r"\bdescribe\b", "什么", "怎么", "如何", "哪", "为什么", "说说", "讲讲", "多少", "多久",
    "多长", "谁", "几",
)
CONFIRM_Q = _rx(
    r"\bis that right\b", r"\bgot that right\b", r"\bam i right\b", r"\bdoes that (?:work|sound)",
    r"\bis that (?:ok|okay|how it works)", r"\bsound ok\b", r"\bgood use of\b", r"\bcorrect\b",
    "对吗", "是吗", "对不对", "可以吗", "好吗", "行吗", "合适吗", "您看这样", "是不是这个情况",
    "是这样吗", "理解得对", "算对吗",
)
IMPLICATION_Q = _rx(
    r"\bcost(?:s|ing)? (?:you|to keep)\b", r"\bwhat (?:does|would|did) .{0,40}\bcost\b",
    r"\bend up\b", r"\bwhat happens\b", r"\bhappen (?:if|to)\b", r"\baffect", r"\bimpact\b",
    r"\bmean for\b", r"\blose\b", r"\bhow long (?:did|does|would) it take\b",
    r"\bhow long does .{0,30}take\b", r"\bhow easy would\b", r"\bever cost\b",
    r"\bcost you anything\b", r"\bforce a decision\b", r"\bslows? it down\b",
    r"\bwhat would happen\b", r"\bhow much (?:do you|does it|would)\b",
    r"\bhow much .{0,20}(?:pay|spend)\b", r"\bwhat do you pay\b", r"\bpays? out\b",
    r"\bcause trouble\b", r"\bwhat .{0,20}your income\b",
    r"\bif (?:you|it|a|an|the|that|something|nothing|one)\b.{0,50}\b(?:what|how much|how long)\b",
    r"\b(?:what|how much|how long)\b.{0,60}\bif (?:you|it|a|an|the|that|something|nothing)\b",
    r"\bwould (?:it|they) pay\b", "(?:如果|要是|万一|假如).{0,24}(?:多少|怎么|什么|会)",
    "报销多少", "影响", "损失", "代价", "造成", "会怎样", "会有什么", "耽误", "后果", "多花",
    "要多久", "多长时间", "花了多少", "花多少", "多少钱", "万一", "逼着", "什么数", "能报多少",
    "报多少", "报了多少", "怎么发", "维护费", "一般几个人", "忙几天", "多久能",
)
NEED_PAYOFF_Q = _rx(
    r"\bwould (?:it|that) help (?:you|if you|to)\b", r"\bwould that help\b",
    r"\bhow would (?:it|that) help\b", r"\bwhat would it mean\b", r"\bwould (?:that|it) change\b",
    r"\bworth (?:it|an hour|a)\b", r"\bwould seeing\b", r"\bwould it make sense\b",
    r"\bwhat would (?:convince|you need|you want)\b", "对您有什么帮助", "有没有帮助", "值不值得",
    "会不会愿意", "要看到什么", "看到什么才", "最想看到",
)
PROBLEM_Q = _rx(
    r"\bproblems?\b", r"\bdifficult", r"\bhard(?:er)?\b", r"\bhassle\b", r"\btrouble\b",
    r"\bbugs?\b", r"\bfrustrat", r"\bslow", r"\bwrong\b", r"\berrors?\b", r"\bredone\b",
    r"\bredo\b", r"\bmistakes?\b", r"\bgaps?\b", r"\bworr", r"\bconcern", r"\bfall short\b",
    r"\bshort on\b", r"\bsatisf", r"\bwish\b", r"\bbetter\b", r"\bwhat makes\b", r"\bwhy\b",
    r"\breason\b", r"\bbehind\b", r"\bawkward\b", r"\bstopping\b",
    r"\bwho (?:\w+ )?(?:decides|signs off|approves|would you take|has the final)",
    r"\bwho keeps track\b", r"\bapproved\b", r"\bwhat made it work\b", r"\blook for\b",
    r"\bvalue most\b", r"\brely on\b", r"\bwhat'?s worked\b",
    r"\bhow do (?:things|you) (?:usually )?get funded\b", r"\bfunded\b",
    r"\bhow do you get that number\b", r"\bkeep track\b", r"\bsomething happening\b",
    r"\bsomething on your side\b", r"\bcoming up\b", r"\bever\b", r"\bcheck(?:ed)? what\b",
    r"\bwhat do you remember\b", r"\bstill know\b", "麻烦", "难", "问题", "不顺", "顺不顺", "出错",
    "错", "返工", "重新改", "对不上", "头疼", "费劲", "操心", "不满意", "顾虑", "担心", "卡在",
    "扣分", "催", "希望", "为什么", "原因", "什么条件", "是在等", "拍板", "谁批", "找谁", "流程",
    "看重", "放心", "让您", "最想", "汇总", "统计", "总数", "什么事占着", "有没有哪", "最容易",
    "有没有发现", "有没有算过", "有没有什么", "记得", "谁在管", "谁来", "怎么管", "哪里", "指标",
)
PROPOSAL_Q = _rx(
    r"\bshall (?:i|we)\b", r"\bshould i\b", r"\bcould i (?:bring|come|send|call|ring|visit)\b",
    r"\bcan i come\b", r"\bwould you be (?:open|interested)\b", r"\bcan we meet\b",
    r"\bcould we\b", r"\bis it easier if i\b", r"\bwould it help if (?:i|we)\b",
    r"\bwould you rather\b", "要不要", "要不", "我再打给您", "我过来", "带过来",
)

# fmt: on
_NUMBER_EN = re.compile(
    r"(?:[$¥€£]\s*)?\b\d[\d,.]*\s*(?:%|k\b|percent|per cent|million|thousand|months?|years?|weeks?|"
    r"days?|hours?|orders|deliveries|projects|customers|clients|minutes|on time|plants|sites)?"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|twelve|eighteen|twenty|thirty|forty|"
    r"fifty|hundred)\s+(?:percent|months?|years?|weeks?|days?|projects|customers|plants|sites)\b"
    r"|\b(?:half|a quarter|a third) of\b"
)
_NUMBER_ZH = re.compile(
    r"\d[\d,.]*\s*(?:%|成|万|千|元|块|倍|家|个月|个项目|个客户|天|年|单|分钟|小时|条|个|人)?"
    r"|百分之[一二三四五六七八九十\d]+"
    r"|[一二两三四五六七八九十百千万几]{1,5}(?:成|万|千|元|块|倍|个月|个项目|个客户|天|周|年|单|家|分钟|小时)"
    r"|[三四五六七八九]分之[一二三]"
    r"|[一二两三四五六七八九十几]{1,3}个(?:工作日|月|人|项目|客户|厂区|部门|小时)"
)
_AGENDA_NUMBER = re.compile(
    r"\b(?:one|two|three) (?:things|points|minutes?)\b|[一二两三]件事|[二两三]点"
)

_ORG_SUFFIX_EN = (
    r"(?:logistics|pumps|forging|biotech|pharma|valves|electronics|circuits|components|machinery|"
    r"dairy|foods|group|bank|hospital|motors|steel|precision|industries|manufacturing|road|street)"
)
_NAMED_EN = re.compile(
    rf"\b(?:[A-Z][a-z]+ ){{1,2}}(?:{_ORG_SUFFIX_EN.title()}|{_ORG_SUFFIX_EN})\b"
    r"|\b(?:Mr|Ms|Mrs|Dr)\.? [A-Z][a-z]+"
    r"|\b(?:at|for|from|to) (?!Huaxin\b|Taiping\b|Hengyuan\b|Jinqiao\b)[A-Z][a-z]{2,}\b"
    r"|\b(?:the )?(?:paint shop|noodle place|hardware store) (?:down the road|on [A-Z]\w+)"
    r"|\b[A-Z]{3}\b(?= audit)"
    r"|\b[A-Z][a-z]+ [A-Z][a-z]+ (?:at|in) [A-Z][a-z]+"
)
_SELF_NAMES = frozenset({"huaxin", "taiping", "华信", "平安", "太平"})
_NAMED_ZH = re.compile(
    r"(?<![同各两几多我贵这那一本该类咱])"
    r"([\u4e00-\u9fff]{2,4})(?:物流|公司|集团|电子|机械|药业|生物|乳业|阀门|泵业|锻造|精密|电路|"
    r"元件|制药|五金店|科技|电器|纺织)"
    r"|[王李张刘陈杨黄赵周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏"
    r"吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶贺顾毛郝龚邵万钱严武戴"
    r"莫孔汤](?:经理|厂长|总监|主任|总|老板|工)"
    r"|[\u4e00-\u9fff]{2}路那家"
)
_GENERIC_ZH_PREFIX = frozenset(
    {
        "同类",
        "附近",
        "其他",
        "别的",
        "很多",
        "制造",
        "物流",
        "多厂区",
        "同行",
        "一家",
        "两家",
        "几家",
    }
)


@dataclass(frozen=True)
class Question:
    """One asking sentence: as typed, the SPIN stage it serves, and whether it is open."""

    text: str
    stage: str  # situation|problem|implication|need_payoff|confirm|choice|proposal|rhetorical
    open: bool


@dataclass(frozen=True)
class Signals:
    """What a reply does, read from its structure: each seen signal with the span showing it."""

    lang: str
    size: int  # words (English) or characters (Chinese)
    questions: tuple[Question, ...]
    seen: dict[str, str]  # signal → the words that showed it
    counts: dict[str, int]

    def has(self, *names: str) -> bool:
        return any(name in self.seen for name in names)

    @property
    def genuine_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.stage != "rhetorical")


@dataclass(frozen=True)
class _Sentence:
    typed: str
    normal: str
    asks: bool


def _sentences(text: str) -> list[_Sentence]:
    folded = unicodedata.normalize("NFKC", text)
    found = []
    for piece in _SENTENCE.split(folded):
        typed = piece.strip()
        if not typed:
            continue
        normal = normalise(typed)
        found.append(_Sentence(typed, normal, _asks(normal)))
    return found


def _asks(normal: str) -> bool:
    text = normal.rstrip(" .…")
    if QUESTION_END.search(text):
        return True
    if normal.rstrip().endswith((".", "。", "!")):
        return False
    if QUESTION_START_EN.match(text):
        return True
    return bool(_CJK.search(text)) and bool(QUESTION_ZH.search(text))


def _size(text: str) -> int:
    if _CJK.search(text):
        return len("".join(ch for ch in text if not ch.isspace()))
    return len(text.split())


def _stage(sentence: _Sentence, before: str, whole: str) -> str:
    """The SPIN stage a question serves (or the control question it is)."""
    text = sentence.normal
    for pattern in (SARCASM, ARGUE, PRESSURE, DEFENSIVE):
        if pattern.search(text):
            return "rhetorical"
    if _echo_challenge(text, before):
        return "rhetorical"
    deep = bool(IMPLICATION_Q.search(text) or PROBLEM_Q.search(text))
    offered = bool(TIME.search(text) or PROPOSAL.search(text) or PROPOSAL_Q.search(text))
    if OPTION.search(text) and offered and not (deep or NEED_PAYOFF_Q.search(text)):
        return "choice"
    which = re.search(r"\bwhich (?:sounds|would|is|one)\b|哪个|哪种", text)
    if which and OPTION.search(whole) and not deep:
        return "choice"
    if CONFIRM_Q.search(text) and not IMPLICATION_Q.search(text):
        return "confirm"
    if IMPLICATION_Q.search(text):
        return "implication"
    if NEED_PAYOFF_Q.search(text):
        return "need_payoff"
    if PROBLEM_Q.search(text):
        return "problem"
    if PROPOSAL_Q.search(text) or (TIME.search(text) and PROPOSAL.search(text)):
        return "proposal"
    return "situation"


def _echo_challenge(text: str, before: str) -> bool:
    """A reply that opens by throwing the customer's words back: "Not complicated?", "满意？"."""
    if before:
        return False
    body = text.rstrip("? ")
    if _CJK.search(body):
        return len(body) <= 6 and not QUESTION_ZH.search(body) and not CONFIRM_Q.search(text)
    words = body.split()
    return 1 <= len(words) <= 3 and not QUESTION_START_EN.match(body) and text.endswith("?")


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0).strip() if match else None


def _named(typed: str, normal: str, names: frozenset[str]) -> str | None:
    for match in _NAMED_EN.finditer(typed):
        span = match.group(0)
        words = {word.lower() for word in re.findall(r"[A-Za-z]+", span)}
        if words & (names | _SELF_NAMES) and not words - (names | _SELF_NAMES | _FILLER_EN):
            continue
        if words & _SELF_NAMES:
            continue
        if words <= _FILLER_EN:
            continue
        return span
    for match in _NAMED_ZH.finditer(normal):
        span = match.group(0)
        if any(name and name in span for name in names | _SELF_NAMES):
            continue
        prefix = match.group(1) or ""
        if prefix and (prefix in _GENERIC_ZH_PREFIX or prefix[:2] in _GENERIC_ZH_PREFIX):
            continue
        if any(
            word in prefix
            for word in ("我们", "贵", "咱们", "您", "你们", "这", "那", "本", "一个", "的")
        ):
            continue
        return span
    return None


_FILLER_EN = frozenset(
    {
        "at", "for", "from", "to", "in", "the", "mr", "ms", "mrs", "dr", "i", "it", "ok", "okay",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
        "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december", "feb", "director", "general", "manager", "gm", "cfo", "excel",
        "christmas", "this", "that", "they", "we", "you", "your", "our", "last", "next", "one",
        "head", "office", "suzhou", "wuxi", "changzhou",
    }
)  # fmt: skip


def analyse(text: str, names: frozenset[str] = frozenset()) -> Signals:
    """Read what the reply does: its questions and every structural signal, with evidence."""
    sentences = _sentences(text)
    normal = " ".join(sentence.normal for sentence in sentences)
    typed = " ".join(sentence.typed for sentence in sentences)
    seen: dict[str, str] = {}
    counts: Counter[str] = Counter()

    def mark(name: str, span: str | None) -> None:
        if span is not None and name not in seen:
            seen[name] = span

    questions: list[Question] = []
    before = ""
    first_question_at: int | None = None
    pitch_at: int | None = None
    for number, sentence in enumerate(sentences):
        if sentence.asks:
            stage = _stage(sentence, before, normal)
            is_open = bool(OPEN_Q.search(sentence.normal)) and stage not in ("confirm", "choice")
            questions.append(Question(sentence.typed, stage, is_open))
            if stage != "rhetorical" and first_question_at is None:
                first_question_at = number
        if pitch_at is None and PITCH.search(sentence.normal) and not sentence.asks:
            pitch_at = number
        if pitch_at is None and _feature_list(sentence.normal) and not sentence.asks:
            pitch_at = number
        before += sentence.normal
    for name, pattern in _SIGNALS.items():
        mark(name, _first(pattern, normal))
    for stage in ("rhetorical",):
        if any(q.stage == stage for q in questions):
            mark("sarcasm", next(q.text for q in questions if q.stage == stage))
    counts["acks"] = len(ACK.findall(normal))
    counts["examples"] = len({m.group(0) for m in EXAMPLE.finditer(normal)})
    counts["benefits"] = len({m.group(0) for m in BENEFIT.finditer(normal)})
    counts["numbers"] = len(_numbers(normal))
    counts["times"] = len(TIME.findall(normal))
    counts["sentences"] = len(sentences)
    if counts["numbers"]:
        mark("figures", _numbers(normal)[0])
    mark("named_ref", _named(typed, normal, names))
    if pitch_at is not None:
        mark("pitch", sentences[pitch_at].typed)
        if first_question_at is None or pitch_at < first_question_at:
            mark("pitch_before_ask", sentences[pitch_at].typed)
    if counts["acks"] >= 3:
        mark("ack_stuffed", _first(ACK, normal))
    _contradiction(sentences, mark)
    if sentences and not seen.get("ack") and _responsive_opener(sentences):
        mark("opener", sentences[0].typed)
    if counts["times"] and OPTION.search(normal) and (counts["times"] >= 2 or _choice(questions)):
        mark("options", _first(OPTION, normal))
    elif _choice(questions) and PROPOSAL.search(normal):
        mark("options", next(q.text for q in questions if q.stage == "choice"))
    size = _size(text)
    lang = language_of(text)
    if size > (180 if lang == "zh" else 110):
        mark("rambling", str(size))
    if size < (8 if lang == "zh" else 5):
        mark("thin", str(size))
    return Signals(lang, size, tuple(questions), seen, dict(counts))


# fmt: off
DELIVERABLE = _rx(
    r"\bone[- ]page\b", r"\bsummary\b", r"\boverview\b", r"\bproposal\b", r"\bcalculation\b",
    r"\bcomparison\b", r"\btimeline\b", "一页纸", "方案", "测算", "对比", "一张表", "时间表",
)
PEERS = _rx(
    r"\b(?:two|three|four|five|several|a couple of|\d+)\s+(?:\w+\s+){0,2}"
    r"(?:firms|companies|customers|clients|shops|factories|manufacturers|makers|businesses|groups)\b",
    r"\b(?:a|one) (?:similar|comparable) (?:company|firm|manufacturer|group|business)\b",
    r"\bsimilar (?:companies|firms|manufacturers|businesses)\b",
    r"\b(?:a |one )?(?:\w+[- ])?(?:client|customer)s? of ours\b",
    r"\b(?:our|a) (?:customer|client) (?:with|in|at)\b",
    "[一二两三四五六七八九十几\\d]+家(?!人|里)", "同类", "同行", "(?:有个|一家|一位).{0,8}客户",
)
# fmt: on
_SIGNALS: dict[str, re.Pattern[str]] = {
    "peers": PEERS,
    "deliverable": DELIVERABLE,
    "ack": ACK,
    "empathy": EMPATHY,
    "restate": RESTATE,
    "apology": APOLOGY,
    "humour": HUMOUR,
    "respect_time": RESPECT_TIME,
    "argue": ARGUE,
    "defensive": DEFENSIVE,
    "sarcasm": SARCASM,
    "blame": BLAME,
    "pressure": PRESSURE,
    "over_promise": OVER_PROMISE,
    "generic_claim": GENERIC_CLAIM,
    "verifiable": VERIFIABLE,
    "trial": TRIAL,
    "visit": VISIT,
    "example": EXAMPLE,
    "benefit": BENEFIT,
    "proposal": PROPOSAL,
    "time": TIME,
    "passive": PASSIVE,
    "purpose": PURPOSE,
}


def _numbers(normal: str) -> list[str]:
    found = [m.group(0).strip() for m in _NUMBER_EN.finditer(normal) if m.group(0).strip()]
    found += [m.group(0).strip() for m in _NUMBER_ZH.finditer(normal) if m.group(0).strip()]
    agenda = {m.group(0) for m in _AGENDA_NUMBER.finditer(normal)}
    return [n for n in found if n not in agenda and not re.fullmatch(r"[一两]?[个]?", n)]


_LISTED_ZH = re.compile(r"(?:有|包括|:)[^,。:]{0,8}、[^,。]{0,8}、")
_LISTED_EN = re.compile(
    r"(?:\bwe have|\bour \w+(?: \w+)? (?:has|have|includes)|:)\s*((?:[^,.:;?]+,){3,})"
)


def _feature_list(normal: str) -> bool:
    """A statement listing product features ("有：A、B、C", "we have: a, b, c, d"): a pitch."""
    if _LISTED_ZH.search(normal) and re.search("我们|功能|产品|险种|套餐|方案", normal):
        return True
    match = _LISTED_EN.search(normal)
    if match is None or not re.search(r"\b(?:we|our)\b", normal):
        return False
    items = [item.strip() for item in match.group(1).split(",") if item.strip()]
    return len(items) >= 3 and all(len(item.split()) <= 4 for item in items)


def _contradiction(sentences: Sequence[_Sentence], mark: Callable[[str, str | None], None]) -> None:
    """An acknowledgement, then a turn against the customer: "I understand, but you're wrong"."""
    acked = False
    for sentence in sentences:
        pieces = CONTRAST.split(sentence.normal)
        for index, piece in enumerate(pieces):
            bad = any(p.search(piece) for p in (ARGUE, SARCASM, PRESSURE, BLAME, DEFENSIVE))
            if acked and bad and (index > 0 or sentence is not sentences[0]):
                mark("ack_then_contradict", sentence.typed)
                return
            if ACK.search(piece) or APOLOGY.search(piece) or EMPATHY.search(piece):
                acked = True


def _responsive_opener(sentences: Sequence[_Sentence]) -> bool:
    """The reply opens with a short remark on what the customer said, then asks: listening."""
    first = sentences[0]
    if first.asks or len(sentences) < 2:
        return False
    if re.search(r"\b(?:we|our|i'?m from|my name)\b|我们|我是", first.normal):
        return False
    return _size(first.normal) <= (30 if _CJK.search(first.normal) else 16)


def _choice(questions: Sequence[Question]) -> bool:
    return any(q.stage == "choice" for q in questions)


# ----- the rubric -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One criterion's band (7/5/3), where in the band the rubric puts it, and why."""

    criterion: str
    score: int
    lean: float  # -1 … 1: where inside the band (the rubric's own view)
    moves: tuple[str, ...]  # the move ids that decided it


DEEP = ("problem", "implication", "need_payoff")
_ATTITUDE_SLIPS = {
    "argue": "argue",
    "defensive": "argue",
    "ack_then_contradict": "argue",
    "sarcasm": "sarcasm",
    "blame": "blame_others",
    "pressure": "pressure",
}


def _attitude(s: Signals, ctx: TurnContext) -> Verdict:
    slips = sorted({move for name, move in _ATTITUDE_SLIPS.items() if s.has(name)})
    if slips:
        return Verdict("attitude", NEEDS_WORK, -0.3 * (len(slips) - 1), tuple(slips))
    listening = [
        move
        for name, move in (
            ("restate", "restate"),
            ("apology", "apology"),
            ("empathy", "acknowledge"),
            ("humour", "humour"),
        )
        if s.has(name)
    ]
    genuine_time = s.has("respect_time") and not s.has("pitch", "over_promise")
    if genuine_time:
        listening.append("respect_time")
    engaged = bool(s.genuine_questions) or s.has("benefit", "proposal", "restate", "verifiable")
    acknowledged = s.has("ack", "opener") and engaged and not s.has("pitch_before_ask")
    if acknowledged and "acknowledge" not in listening:
        listening.append("acknowledge")
    lean = 0.0
    if s.has("ack_stuffed"):
        lean -= 0.5
    if s.has("passive") and not s.genuine_questions:
        lean -= 0.3
    if listening and not s.has("pitch_before_ask", "over_promise"):
        return Verdict("attitude", OUTSTANDING, lean + 0.2 * (len(listening) - 1), tuple(listening))
    if s.has("pitch_before_ask") or s.has("over_promise"):
        lean -= 0.6
    return Verdict("attitude", SATISFACTORY, lean, ())


def _question_moves(questions: Sequence[Question]) -> list[str]:
    moves = ["question"] if questions else []
    if any(q.open for q in questions):
        moves.append("open_question")
    if any(q.stage in DEEP for q in questions):
        moves.append("probing_question")
    if any(q.stage == "confirm" for q in questions):
        moves.append("confirming_question")
    return moves


def _questioning(s: Signals, ctx: TurnContext) -> Verdict:
    asked = s.genuine_questions
    if s.has("pitch_before_ask") and "questioning" in ctx.assess:
        return Verdict("questioning", NEEDS_WORK, 0.0, ("pitch_before_asking",))
    if not asked:
        lean = -0.4 if s.has("sarcasm") else 0.0
        return Verdict("questioning", NEEDS_WORK, lean, ())
    moves = tuple(_question_moves(asked))
    stages = {q.stage for q in asked}
    deep = stages & set(DEEP)
    lean = 0.0
    if ctx.stage == "implication":
        good = bool(stages & {"implication", "need_payoff"}) or (
            "problem" in stages and "restate" in s.seen
        )
        ok = "problem" in stages or (ctx.confirm_ok and "confirm" in stages)
        if good:
            return Verdict("questioning", OUTSTANDING, 0.3, moves)
        if ok:
            return Verdict("questioning", OUTSTANDING, -0.3, moves)
    elif ctx.stage == "problem":
        if deep:
            lean = 0.3 if "implication" in stages else 0.1
            return Verdict("questioning", OUTSTANDING, lean, moves)
    elif ctx.stage == "situation":
        if deep or any(q.open and q.stage == "situation" for q in asked):
            lean = 0.3 if deep else 0.0
            return Verdict("questioning", OUTSTANDING, lean, moves)
    else:
        if deep or (ctx.confirm_ok and "confirm" in stages) or any(q.open for q in asked):
            return Verdict("questioning", OUTSTANDING, 0.2 if deep else 0.0, moves)
    if (ctx.choice_ok or ctx.confirm_ok) and "choice" in stages:
        return Verdict("questioning", OUTSTANDING, -0.2, moves)
    if "confirm" in stages:
        lean = 0.1
    if any(q.open for q in asked):
        lean += 0.2
    if stages <= {"proposal", "choice"}:
        lean -= 0.4
    return Verdict("questioning", SATISFACTORY, lean, moves)


def _substance(s: Signals, ctx: TurnContext) -> Verdict:
    if s.has("over_promise"):
        return Verdict("substance", NEEDS_WORK, 0.0, ("over_promise",))
    moves: list[str] = []
    points = 0.0
    if s.has("named_ref"):
        points += 1.5
        moves.append("third_party_proof")
    elif s.has("peers"):
        points += 1.0
        moves.append("third_party_proof")
    if s.has("visit"):
        points += 1.0
        if "third_party_proof" not in moves:
            moves.append("third_party_proof")
    if s.has("verifiable"):
        points += 1.0
        moves.append("evidence")
    if s.has("trial"):
        points += 0.75
        if "evidence" not in moves:
            moves.append("evidence")
    examples = s.counts.get("examples", 0)
    if examples:
        points += 1.0 if examples == 1 else 1.5
        if "evidence" not in moves:
            moves.append("evidence")
    numbers = s.counts.get("numbers", 0)
    if numbers:
        points += 1.0 if numbers == 1 else 1.5
        moves.append("figures")
    benefits = s.counts.get("benefits", 0)
    if benefits:
        points += 0.5 if benefits == 1 else 1.0
        moves.append("customer_value")
    if s.has("deliverable"):
        points += 0.5
    if s.has("generic_claim"):
        points -= 1.0
    if s.has("pitch"):
        points -= 0.5
    if points >= 2.0:
        return Verdict("substance", OUTSTANDING, min(1.0, (points - 2.0) / 3), tuple(moves))
    if points >= 0.75:
        return Verdict("substance", SATISFACTORY, (points - 1.25) / 2, tuple(moves))
    return Verdict("substance", NEEDS_WORK, max(-1.0, points / 2), tuple(moves))


def _advance(s: Signals, ctx: TurnContext) -> Verdict:
    if s.has("pressure"):
        return Verdict("advance", NEEDS_WORK, 0.0, ("pressure",))
    proposal = s.has("proposal")
    time = s.has("time")
    options = s.has("options")
    moves = []
    if proposal or options:
        moves.append("next_step")
    if options:
        moves.append("next_step_options")
    hostile = s.has("argue", "sarcasm", "blame", "defensive", "ack_then_contradict")
    if options and proposal and not hostile:
        return Verdict("advance", OUTSTANDING, 0.2 if time else 0.0, tuple(moves))
    if (proposal or options) and time and not s.has("passive") and not hostile:
        return Verdict("advance", SATISFACTORY, 0.6 if proposal else 0.3, tuple(moves))
    if proposal or (time and s.genuine_questions):
        lean = -0.5 if s.has("passive") else 0.0
        lean -= 0.5 if hostile else 0.0
        return Verdict("advance", SATISFACTORY, lean, tuple(moves or ["next_step"]))
    return Verdict("advance", NEEDS_WORK, -0.5 if s.has("passive") else 0.0, ())


def _clarity(s: Signals, ctx: TurnContext) -> Verdict:
    if s.has("rambling"):
        return Verdict("clarity", NEEDS_WORK, 0.0, ("rambling",))
    if s.has("thin"):
        return Verdict("clarity", NEEDS_WORK, 0.3, ())
    moves = ["brief"]
    lean = 0.0
    if s.has("pitch") or s.has("ack_stuffed"):
        lean -= 0.6
    structured = s.has("purpose") or (s.has("respect_time") and not s.has("pitch"))
    if structured and not s.has("pitch_before_ask", "over_promise", "ack_stuffed"):
        if s.has("purpose"):
            moves.append("purpose_agenda")
        if s.has("respect_time"):
            moves.append("respect_time")
        return Verdict(
            "clarity", OUTSTANDING, lean + (0.2 if len(moves) > 2 else 0.0), tuple(moves)
        )
    if s.has("benefit") and not s.has("pitch"):
        lean += 0.3
    return Verdict("clarity", SATISFACTORY, lean, tuple(moves))


_RUBRIC: dict[str, Callable[[Signals, TurnContext], Verdict]] = {
    "attitude": _attitude,
    "questioning": _questioning,
    "substance": _substance,
    "advance": _advance,
    "clarity": _clarity,
}
PENALTY_MOVES = frozenset(
    {
        "argue",
        "sarcasm",
        "blame_others",
        "pressure",
        "over_promise",
        "pitch_before_asking",
        "rambling",
    }
)


def rubric(signals: Signals, ctx: TurnContext) -> dict[str, Verdict]:
    """Each criterion that applies at this turn: the assessed ones, and any other criterion of
    the scenario that a slip brought down (an insult counts against attitude at any turn)."""
    verdicts = {}
    for criterion in ctx.criteria:
        if criterion not in _RUBRIC:
            continue
        verdict = _RUBRIC[criterion](signals, ctx)
        slipped = verdict.score == NEEDS_WORK and bool(set(verdict.moves) & PENALTY_MOVES)
        if criterion in ctx.assess or slipped:
            verdicts[criterion] = verdict
    return verdicts


# ----- the learned pairwise scorer ------------------------------------------------------------

SIGNAL_NAMES = (
    "ack", "opener", "empathy", "restate", "apology", "humour", "respect_time", "argue",
    "defensive", "sarcasm", "blame", "pressure", "over_promise", "ack_then_contradict",
    "ack_stuffed", "pitch", "pitch_before_ask", "generic_claim", "named_ref", "peers",
    "verifiable", "trial", "visit", "example", "benefit", "deliverable", "figures", "proposal",
    "time", "options", "passive", "purpose", "rambling", "thin",
)  # fmt: skip
STAGES = ("situation", "problem", "implication", "need_payoff", "confirm", "choice", "proposal")


def dense_names() -> tuple[str, ...]:
    """The names of the structural features, in vector order."""
    names = ["rule_rank", "rule_lean"]
    names += [f"crit:{c}" for c in CRITERIA]
    names += [f"sig:{name}" for name in SIGNAL_NAMES]
    names += [f"q:{stage}" for stage in STAGES]
    names += ["q:rhetorical", "q:open", "q:due", "q:below_due", "q:none_when_due"]
    names += ["numbers", "acks", "size"]
    return tuple(names)


DENSE = dense_names()
RUBRIC_FEATURES = 2 + len(CRITERIA)
"""The first dense features summarise the rubric; the rest are the model's own evidence."""


def rank_of(verdicts: Mapping[str, Verdict], ctx: TurnContext) -> float:
    """The rubric's own ordering value: 7/5/3 over the criteria that apply (a slip on a
    criterion the turn does not assess costs what it falls short of 7), then the lean."""
    total = sum(v.score if c in ctx.assess else v.score - OUTSTANDING for c, v in verdicts.items())
    return float(total)


def _lean(verdicts: Mapping[str, Verdict]) -> float:
    return sum(v.lean for v in verdicts.values()) / max(1, len(verdicts))


def dense_vector(signals: Signals, verdicts: Mapping[str, Verdict], ctx: TurnContext) -> Floats:
    """The structural features of a reply at a turn (the model's non-token inputs)."""
    values: list[float] = [rank_of(verdicts, ctx) / (2.0 * len(ctx.assess)), _lean(verdicts)]
    for criterion in CRITERIA:
        verdict = verdicts.get(criterion)
        values.append(0.0 if verdict is None else (verdict.score - SATISFACTORY) / 2.0)
    values += [1.0 if signals.has(name) else 0.0 for name in SIGNAL_NAMES]
    stages = Counter(q.stage for q in signals.questions)
    values += [min(2.0, float(stages.get(stage, 0))) for stage in STAGES]
    due = _due_stages(ctx)
    asked = {q.stage for q in signals.genuine_questions}
    questioning = "questioning" in ctx.assess
    values += [
        min(2.0, float(stages.get("rhetorical", 0))),
        1.0 if any(q.open for q in signals.genuine_questions) else 0.0,
        1.0 if questioning and asked & due else 0.0,
        1.0 if questioning and asked and not asked & due else 0.0,
        1.0 if questioning and not asked else 0.0,
    ]
    values += [
        math.log1p(signals.counts.get("numbers", 0)),
        math.log1p(signals.counts.get("acks", 0)),
        math.log1p(signals.size) / 5.0,
    ]
    return np.array(values, dtype=np.float64)


def _due_stages(ctx: TurnContext) -> set[str]:
    if ctx.stage == "implication":
        return {"implication", "need_payoff", "confirm"}
    if ctx.stage == "problem":
        return set(DEEP)
    if ctx.stage == "situation":
        return {"situation", *DEEP}
    if ctx.stage == "close":
        return {"choice", "proposal", "confirm"}
    return {"confirm", "choice", *DEEP}


@dataclass
class PairwiseModel:
    """A linear scorer over tf-idf tokens and structural features, as plain arrays."""

    vocabulary: dict[str, int]
    idf: Floats
    token_coef: Floats
    dense_coef: Floats
    dense_names: tuple[str, ...] = DENSE
    scale: float = 1.0  # the spread of the model's own evidence (beyond the rubric's summary)
    meta: dict[str, Any] = field(default_factory=dict)

    def token_vector(self, text: str) -> tuple[npt.NDArray[np.int64], Floats, float]:
        """Known tokens' indices, their l2-normalised sublinear tf-idf, and the known share."""
        found = tokens(text)
        counts = Counter(t for t in found if t in self.vocabulary)
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0), 0.0
        indices = np.fromiter((self.vocabulary[t] for t in counts), np.int64, len(counts))
        tf = np.fromiter((1.0 + math.log(n) for n in counts.values()), np.float64, len(counts))
        values = tf * self.idf[indices]
        norm = float(np.linalg.norm(values))
        whole = [t for t in found if not t.startswith(("#", "f|#", "~#"))]  # words, not trigrams
        share = sum(t in self.vocabulary for t in whole) / max(1, len(whole))
        return indices, values / norm if norm else values, share

    def score(self, text: str, dense: Floats) -> tuple[float, float, float]:
        """The learned score of a reply, the part of it that is the model's own evidence
        (tokens and signals, without the rubric's summary), and the share of known tokens."""
        indices, values, share = self.token_vector(text)
        own = float(self.token_coef[indices] @ values)
        own += float(self.dense_coef[RUBRIC_FEATURES:] @ dense[RUBRIC_FEATURES:])
        learned = own + float(self.dense_coef[:RUBRIC_FEATURES] @ dense[:RUBRIC_FEATURES])
        return learned, own, share

    def save(self, path: Path) -> None:
        """Write the model as a compressed .npz, byte for byte the same for the same model."""
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        header = {"dense": list(self.dense_names), "scale": self.scale, "meta": self.meta}
        arrays = {
            "header": np.array(json.dumps(header, ensure_ascii=False, sort_keys=True)),
            "vocabulary": np.array(words),
            "idf": self.idf.astype(np.float32),
            "token_coef": self.token_coef.astype(np.float32),
            "dense_coef": self.dense_coef.astype(np.float32),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_npz_bytes(arrays))

    @classmethod
    def load(cls, path: Path) -> PairwiseModel:
        """Read a model written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            words = [str(word) for word in data["vocabulary"]]
            return cls(
                vocabulary={word: index for index, word in enumerate(words)},
                idf=data["idf"].astype(np.float64),
                token_coef=data["token_coef"].astype(np.float64),
                dense_coef=data["dense_coef"].astype(np.float64),
                dense_names=tuple(header["dense"]),
                scale=float(header["scale"]),
                meta=dict(header["meta"]),
            )


def _npz_bytes(arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """An .npz archive with fixed timestamps, so the same arrays give the same bytes."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


# ----- pairs and training ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Two replies to the same turn, the first better by the method, and the row's columns."""

    scenario: str
    turn: int
    better: str
    worse: str
    columns: dict[str, str] = field(default_factory=dict)


def read_pairs(path: Path) -> tuple[list[Pair], list[str]]:
    """The pairs of a TSV file (columns scenario, turn, better, worse, any others) and problems."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"{path}: cannot read: {error}"]
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        return [], [f"{path}: empty file"]
    header = [name.strip() for name in rows[0]]
    missing = [name for name in ("scenario", "turn", "better", "worse") if name not in header]
    if missing:
        return [], [f"{path}:1: missing column '{name}'" for name in missing]
    pairs, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{path}:{number}: {len(row)} columns, the header has {len(header)}")
            continue
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        if not cells["turn"].isdigit():
            problems.append(f"{path}:{number}: turn {cells['turn']!r} is not a number")
            continue
        extra = {k: v for k, v in cells.items() if k not in ("scenario", "turn", "better", "worse")}
        pairs.append(
            Pair(cells["scenario"], int(cells["turn"]), cells["better"], cells["worse"], extra)
        )
    return pairs, problems


@dataclass(frozen=True)
class _Reading:
    text: str
    dense: Floats
    rank: float
    lean: float


def _read_reply(text: str, ctx: TurnContext) -> _Reading:
    signals = analyse(text, ctx.names)
    verdicts = rubric(signals, ctx)
    return _Reading(
        text, dense_vector(signals, verdicts, ctx), rank_of(verdicts, ctx), _lean(verdicts)
    )


TRAIN_C = 1.0
MIN_DF = 2


def train(
    pairs: Sequence[Pair], scenarios: Mapping[str, Scenario], c: float = TRAIN_C
) -> PairwiseModel:
    """Fit the pairwise scorer: logistic regression on (better − worse) and its negation."""
    import sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    readings = [
        (_read_reply(p.better, ctx), _read_reply(p.worse, ctx))
        for p in pairs
        for ctx in [context_for(scenarios[p.scenario], p.turn)]
    ]
    texts = [reading.text for both in readings for reading in both]
    vectoriser = TfidfVectorizer(
        analyzer=tokens, sublinear_tf=True, min_df=MIN_DF, dtype=np.float64
    )
    matrix = vectoriser.fit_transform(texts).toarray()
    dense = np.array([reading.dense for both in readings for reading in both])
    features = np.hstack([matrix, dense])
    better, worse = features[0::2], features[1::2]
    x = np.vstack([better - worse, worse - better])
    y = np.array([1] * len(pairs) + [0] * len(pairs))
    fitted = LogisticRegression(C=c, fit_intercept=False, max_iter=10000).fit(x, y)
    coef = fitted.coef_[0]
    size = matrix.shape[1]
    scores = features @ coef
    own = matrix @ coef[:size] + dense[:, RUBRIC_FEATURES:] @ coef[size + RUBRIC_FEATURES :]
    model = PairwiseModel(
        vocabulary={str(k): int(v) for k, v in vectoriser.vocabulary_.items()},
        idf=np.asarray(vectoriser.idf_, dtype=np.float64),
        token_coef=coef[:size].astype(np.float64),
        dense_coef=coef[size:].astype(np.float64),
        scale=round(float(np.std(own)) or 1.0, 6),
        meta={
            "pairs": len(pairs),
            "c": c,
            "min_df": MIN_DF,
            "corpus": _pairs_hash(pairs),
            "sklearn": sklearn.__version__,
            "train_ordered": round(float(np.mean(scores[0::2] > scores[1::2])), 4),
        },
    )
    # Round-trip through float32, as the file stores it, so a loaded model scores the same.
    model.idf = model.idf.astype(np.float32).astype(np.float64)
    model.token_coef = model.token_coef.astype(np.float32).astype(np.float64)
    model.dense_coef = model.dense_coef.astype(np.float32).astype(np.float64)
    return model


def _pairs_hash(pairs: Iterable[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda p: (p.scenario, p.turn, p.better, p.worse)):
        digest.update(f"{pair.scenario}\t{pair.turn}\t{pair.better}\t{pair.worse}\n".encode())
    return digest.hexdigest()[:16]


def training_pairs(path: Path = PAIRS_FILE) -> list[Pair]:
    """The `train` split of a pairs file: the only pairs the model, features and thresholds see."""
    pairs, _problems = read_pairs(path)
    return [pair for pair in pairs if pair.columns.get("split") == "train"]


def build_default(scenarios: Mapping[str, Scenario]) -> PairwiseModel:
    """The shipped model, rebuilt from the default corpus's train split."""
    return train(training_pairs(), scenarios)


@lru_cache(maxsize=4)
def _load(path: Path, stamp: float) -> PairwiseModel:
    return PairwiseModel.load(path)


def default_model(path: Path = MODEL_PATH) -> PairwiseModel | None:
    """The shipped model (read again when the file changes), or None when there is none."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return _load(path, stamp)


# ----- the judgement ----------------------------------------------------------------------------

_SIGNAL_MOVES = {
    "empathy": "acknowledge",
    "restate": "restate",
    "apology": "apology",
    "humour": "humour",
    "respect_time": "respect_time",
    "argue": "argue",
    "defensive": "argue",
    "ack_then_contradict": "argue",
    "sarcasm": "sarcasm",
    "blame": "blame_others",
    "pressure": "pressure",
    "over_promise": "over_promise",
    "pitch_before_ask": "pitch_before_asking",
    "rambling": "rambling",
    "named_ref": "third_party_proof",
    "peers": "third_party_proof",
    "visit": "third_party_proof",
    "verifiable": "evidence",
    "trial": "evidence",
    "example": "evidence",
    "figures": "figures",
    "benefit": "customer_value",
    "proposal": "next_step",
    "options": "next_step_options",
    "purpose": "purpose_agenda",
}
PENALTIES = (
    "argue", "sarcasm", "blame_others", "pressure", "over_promise", "pitch_before_asking",
    "rambling",
)  # fmt: skip


@dataclass(frozen=True)
class CriterionJudgement:
    """One criterion at one turn: the 7/5/3 shown, the finer score inside its band, and why."""

    id: str
    score: int
    fine: float
    assessed: bool  # False: the turn does not assess it, but a slip on it counts
    moves: tuple[str, ...]
    quote: str = ""  # the reply's words that decided it (the LLM judge quotes them)

    @property
    def penalties(self) -> tuple[str, ...]:
        return tuple(move for move in self.moves if move in PENALTIES)

    @property
    def rewards(self) -> tuple[str, ...]:
        return tuple(move for move in self.moves if move not in PENALTIES)


@dataclass(frozen=True)
class Judgement:
    """Everything the judge says about one reply at one turn."""

    criteria: dict[str, CriterionJudgement]
    moves: tuple[str, ...]  # every move the reply shows (for the customer's answer and feedback)
    evidence: dict[str, str]  # move id → the words that showed it
    learned: float = 0.0
    unsure: tuple[str, ...] = ()  # why the judge is unsure; empty when it is not
    backend: str = "local"
    fallback: str | None = None  # why the LLM's answer was not used

    @property
    def rank(self) -> float:
        """The value that orders two replies to the same turn: the 7/5/3 over the criteria
        that apply (a slip outside the assessed ones costs its shortfall from 7), and the
        finer scale (always less than one band) to break ties."""
        shown = sum(
            item.score if item.assessed else item.score - OUTSTANDING
            for item in self.criteria.values()
        )
        inside = [item.fine - item.score for item in self.criteria.values()]
        return shown + (sum(inside) / len(inside) if inside else 0.0)


def _moves_of(
    signals: Signals, verdicts: Mapping[str, Verdict]
) -> tuple[list[str], dict[str, str]]:
    moves: list[str] = []
    evidence: dict[str, str] = {}

    def add(move: str, span: str) -> None:
        if move not in moves:
            moves.append(move)
            evidence[move] = span

    asked = signals.genuine_questions
    if asked:
        add("question", asked[0].text)
    for q in asked:
        if q.open:
            add("open_question", q.text)
        if q.stage in DEEP:
            add("probing_question", q.text)
        if q.stage == "confirm":
            add("confirming_question", q.text)
    counted = {move for verdict in verdicts.values() for move in verdict.moves}
    if "acknowledge" in counted:
        add(
            "acknowledge",
            signals.seen.get("ack")
            or signals.seen.get("empathy")
            or signals.seen.get("opener", ""),
        )
    for name, move in _SIGNAL_MOVES.items():
        if name in signals.seen and (move != "acknowledge" or "acknowledge" in counted):
            add(move, signals.seen[name])
    if "brief" in counted:
        add("brief", str(signals.size))
    return moves, evidence


def _rubric_all(signals: Signals, ctx: TurnContext) -> dict[str, Verdict]:
    return {c: _RUBRIC[c](signals, ctx) for c in ctx.criteria if c in _RUBRIC}


def judge(
    text: str,
    ctx: TurnContext,
    model: PairwiseModel | None = None,
    *,
    language: str | None = None,
) -> Judgement:
    """The local judgement of a reply at a turn; `model` orders what the rubric leaves level."""
    signals = analyse(text, ctx.names)
    verdicts = rubric(signals, ctx)
    moves, evidence = _moves_of(signals, _rubric_all(signals, ctx) | verdicts)
    learned, own, share = 0.0, 0.0, 1.0
    if model is not None:
        learned, own, share = model.score(text, dense_vector(signals, verdicts, ctx))
    z = own / model.scale if model is not None and model.scale else 0.0
    criteria = {}
    near = []
    for criterion, verdict in verdicts.items():
        push = verdict.lean + 0.5 * z
        if (verdict.score < OUTSTANDING and push >= NEAR_CALL) or (
            verdict.score > NEEDS_WORK and push <= -NEAR_CALL
        ):
            near.append(criterion)
        fine = verdict.score + BAND * math.tanh(push)
        criteria[criterion] = CriterionJudgement(
            criterion,
            verdict.score,
            round(fine, 4),
            criterion in ctx.assess,
            verdict.moves,
            _quote(verdict, evidence),
        )
    unsure = _unsure(signals, criteria, near, z, share, model, text, language)
    return Judgement(criteria, tuple(moves), evidence, round(learned, 4), unsure)


def _quote(verdict: Verdict, evidence: Mapping[str, str]) -> str:
    for move in verdict.moves:
        if evidence.get(move) and not evidence[move].isdigit():
            return evidence[move]
    return ""


def _unsure(
    signals: Signals,
    criteria: Mapping[str, CriterionJudgement],
    near: Sequence[str],
    z: float,
    share: float,
    model: PairwiseModel | None,
    text: str,
    language: str | None,
) -> tuple[str, ...]:
    """Why a person should look again: a near call, the model against the rubric, odd wording."""
    reasons = []
    if near:
        reasons.append("near_call")
    if criteria:
        verdict = sum((item.score - SATISFACTORY) / 2 for item in criteria.values()) / len(criteria)
        if (verdict > 0.4 and z <= -DISAGREE_AT) or (verdict < -0.4 and z >= DISAGREE_AT):
            reasons.append("model_disagrees")
    slips = [move for item in criteria.values() for move in item.penalties]
    praise = signals.has("empathy", "restate", "apology")
    if slips and praise and not signals.has("ack_then_contradict"):
        reasons.append("mixed_signals")
    if model is not None and share < KNOWN_SHARE:
        reasons.append("unusual_wording")
    if language is not None and language_of(text) != language:
        reasons.append("other_language")
    return tuple(reasons)


# ----- the optional LLM judge -------------------------------------------------------------------

# Instructions to the model, not text shown to anyone.
JUDGE_PROMPT = """\
You judge one reply typed by a sales trainee in a role-play; the trainee is the seller. \
Score each criterion listed below 7 (outstanding), 5 (satisfactory) or 3 (needs work):
{criteria}
The customer had just said: "{line}"
At this turn the method asks for: {stage}.
Judge what the reply does, not the words it uses. Stock phrases ("I understand", "理解您") \
earn nothing on their own. Acknowledging and then contradicting, a rhetorical or insulting \
question, pressure, or pitching features before asking anything score 3 on the criterion \
they hurt, whatever polite words surround them. Proof counts only when it is specific: a \
named reference the customer can check, numbers, a trial, a visit. Answer with one JSON \
object only: {{"criteria": {{criterion id: {{"score": 7, 5 or 3, "quote": the shortest \
span of the reply, copied exactly, that decided the score}}}}, "confidence": a number from \
0 to 1}}."""
STAGE_TEXT = {
    "opening": "a clear purpose, respect for the customer's time, and listening",
    "situation": "an open question about the customer's situation",
    "problem": "a problem question: what is difficult or unsatisfactory for the customer",
    "implication": "an implication question: what the problem costs or causes",
    "proof": "specific, checkable proof and a concrete benefit",
    "close": "a concrete next step offered as a choice of two (the two-choice close)",
}
CONFIDENT_AT = 0.6


def _criteria_text(playbook_criteria: Mapping[str, Any], wanted: Iterable[str]) -> str:
    lines = []
    for criterion in wanted:
        item = playbook_criteria[criterion]
        levels = "; ".join(f"{score}: {item.levels[score].en}" for score in RUBRIC_SCORES)
        lines.append(f"- {criterion} ({item.description.en}) {levels}")
    return "\n".join(lines)


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def parse_llm_judgement(
    answer: str, text: str, wanted: Collection[str]
) -> tuple[dict[str, tuple[int, str]], float]:
    """The endpoint's scores and quotes; raises ValueError for anything off the format."""
    found = re.search(r"\{.*\}", answer, re.DOTALL)
    if found is None:
        raise ValueError("no JSON object")
    payload = json.loads(found.group(0))
    if not isinstance(payload, dict) or not isinstance(payload.get("criteria"), dict):
        raise ValueError("no criteria")
    confidence = float(payload.get("confidence", 1.0))
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence out of range")
    reply = _squash(text)
    scores = {}
    for criterion in wanted:
        item = payload["criteria"].get(criterion)
        if not isinstance(item, dict) or item.get("score") not in RUBRIC_SCORES:
            raise ValueError(f"no score for {criterion}")
        quote = item.get("quote")
        if not isinstance(quote, str) or not quote.strip() or _squash(quote) not in reply:
            raise ValueError(f"the quote for {criterion} is not in the reply")
        scores[criterion] = (int(item["score"]), _squash(quote))
    return scores, confidence


class LlmRoleplayJudge:
    """Scores a reply with an OpenAI-compatible endpoint; the local judgement on any failure."""

    def __init__(self, chat: ChatEndpoint, rubric_criteria: Mapping[str, Any]) -> None:
        self.chat = chat
        self.rubric_criteria = dict(rubric_criteria)

    def judge(self, text: str, ctx: TurnContext, line: str, local: Judgement) -> Judgement:
        """The endpoint's judgement of `text`, or `local` marked with why it was used."""
        wanted = list(local.criteria)
        system = JUDGE_PROMPT.format(
            criteria=_criteria_text(self.rubric_criteria, wanted),
            line=line,
            stage=STAGE_TEXT.get(ctx.stage, STAGE_TEXT["opening"]),
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
        try:
            scores, confidence = parse_llm_judgement(
                self.chat.complete(messages, 400), text, wanted
            )
        except httpx.HTTPStatusError as error:
            return _fallen_back(local, f"HTTP {error.response.status_code}")
        except (httpx.HTTPError, ValueError, TypeError) as error:
            return _fallen_back(local, type(error).__name__)
        criteria = {}
        disagree = False
        for criterion, (score, quote) in scores.items():
            mine = local.criteria[criterion]
            disagree = disagree or abs(score - mine.score) > 2
            fine = score + (mine.fine - mine.score)  # the local finer scale breaks ties
            criteria[criterion] = CriterionJudgement(
                criterion, score, fine, mine.assessed, mine.moves, quote
            )
        unsure = [reason for reason in local.unsure if reason != "near_call"]
        if confidence < CONFIDENT_AT:
            unsure.append("llm_unsure")
        if disagree:
            unsure.append("backends_disagree")
        return Judgement(
            criteria, local.moves, local.evidence, local.learned, tuple(unsure), backend="llm"
        )


def _fallen_back(local: Judgement, reason: str) -> Judgement:
    log.warning("LLM judge: %s; using the local judge", reason)
    return Judgement(
        local.criteria,
        local.moves,
        local.evidence,
        local.learned,
        local.unsure,
        backend="local",
        fallback=reason,
    )


# ----- measuring on pairs -----------------------------------------------------------------------

SKIPPED_COLUMNS = frozenset({"note", "why", "comment", "comments", "better", "worse"})


@dataclass(frozen=True)
class PairOutcome:
    """One pair: whether the better reply ranked strictly higher, and the pair's columns."""

    ordered: bool
    better: float
    worse: float
    columns: dict[str, str]


def run_pairs(pairs: Iterable[Pair], rank: Callable[[Pair, str], float]) -> list[PairOutcome]:
    """Rank both replies of every pair; a tie counts as not ordered."""
    outcomes = []
    for pair in pairs:
        better, worse = rank(pair, pair.better), rank(pair, pair.worse)
        columns = dict(pair.columns)
        columns.setdefault("lang", language_of(pair.better + pair.worse))
        outcomes.append(PairOutcome(better > worse, better, worse, columns))
    return outcomes


def _share(outcomes: Sequence[PairOutcome]) -> dict[str, Any]:
    right = sum(outcome.ordered for outcome in outcomes)
    return {"n": len(outcomes), "ordered": round(right / len(outcomes), 4) if outcomes else None}


def pairs_report(outcomes: Sequence[PairOutcome]) -> dict[str, Any]:
    """The share strictly ordered overall, by language and by every extra column."""
    names = sorted({name for outcome in outcomes for name in outcome.columns} - SKIPPED_COLUMNS)
    by_column: dict[str, Any] = {}
    for name in names:
        groups: dict[str, list[PairOutcome]] = defaultdict(list)
        for outcome in outcomes:
            groups[outcome.columns.get(name) or "-"].append(outcome)
        if name != "lang" and len(groups) > max(12, len(outcomes) // 2):
            continue  # free text, not a grouping
        by_column[name] = {value: _share(groups[value]) for value in sorted(groups)}
    return {**_share(outcomes), "by_column": by_column}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:5.1f} %"


def format_pairs_report(result: Mapping[str, Any], title: str = "") -> str:
    """The report as aligned plain text."""
    lines = [title] if title else []
    lines.append(f"strictly ordered {_percent(result['ordered'])}  (n={result['n']})")
    for name, groups in result["by_column"].items():
        lines.append(f"by {name}:")
        for value, figures in groups.items():
            lines.append(f"  {value:22} {_percent(figures['ordered'])}  (n={figures['n']})")
    return "\n".join(lines)
