"""Names and places of Siping (四平市, Jilin) for the synthetic population.

Plausible, not authoritative: real district and township names, invented streets and villages.
"""

from __future__ import annotations

from typing import NamedTuple

from mocks.records import VehicleStatus

PROVINCE_CITY = "吉林省四平市"


class Area(NamedTuple):
    code: str  # 6-digit administrative code carried in resident IDs
    name: str
    urban: bool
    weight: int  # share of generated IDs
    places: tuple[str, ...]  # streets (urban) or towns/townships (rural)


AREAS: tuple[Area, ...] = (
    Area("220302", "铁西区", True, 20, ("英雄大街", "紫气大路", "海丰大街", "仁兴街", "地直街")),
    Area("220303", "铁东区", True, 18, ("北门街", "平东大路", "站前街", "北沟街", "新华大街")),
    Area(
        "220322",
        "梨树县",
        False,
        22,
        ("梨树镇", "郭家店镇", "榆树台镇", "孤家子镇", "小城子镇", "喇嘛甸镇", "蔡家镇"),
    ),
    Area(
        "220323",
        "伊通满族自治县",
        False,
        12,
        ("伊通镇", "营城子镇", "景台镇", "马鞍镇", "大孤山镇", "靠山镇"),
    ),
    Area(
        "220381",
        "公主岭市",
        False,
        14,
        ("怀德镇", "大岭镇", "黑林子镇", "陶家屯镇", "响水镇", "秦家屯镇"),
    ),
    Area("220382", "双辽市", False, 14, ("茂林镇", "双山镇", "卧虎镇", "服先镇", "王奔镇")),
)
AREA_BY_CODE: dict[str, Area] = {area.code: area for area in AREAS}
RURAL_AREAS: tuple[Area, ...] = tuple(a for a in AREAS if not a.urban)

#: the township offices the subsidy platform lists: (code, county, township)
TOWNSHIPS: tuple[tuple[str, str, str], ...] = tuple(
    (f"{area.code}{100 + index:03d}", area.name, town)
    for area in RURAL_AREAS
    for index, town in enumerate(area.places[:3])
)

VILLAGE_STEMS = (
    "王家", "李家", "张家", "刘家", "赵家", "孙家", "于家", "高家", "双井", "三合", "四合",
    "五里", "七里", "八里", "太平", "永安", "长发", "新立", "兴隆", "万宝", "福安", "东升",
    "红旗", "前进", "胜利", "靠山", "河南", "北山",
)  # fmt: skip

#: northeast-weighted common surnames (weights are rough shares)
SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 90), ("李", 85), ("张", 80), ("刘", 70), ("赵", 40), ("孙", 38), ("杨", 36),
    ("于", 30), ("高", 28), ("陈", 26), ("马", 22), ("徐", 20), ("郭", 18), ("姜", 16),
    ("金", 10), ("吴", 14), ("周", 14), ("韩", 12), ("曲", 8), ("崔", 10), ("宋", 12),
    ("董", 10), ("付", 8), ("丁", 8), ("白", 8), ("关", 8), ("佟", 5), ("那", 4), ("鲁", 5),
    ("程", 6), ("孟", 6), ("田", 7), ("邵", 5), ("谭", 5), ("许", 7), ("贾", 6), ("石", 6),
)  # fmt: skip

MALE_GIVEN = (
    "国", "建", "志", "军", "明", "伟", "海", "春", "立", "文", "永", "长", "宝", "福", "德",
    "庆", "振", "东", "林", "成", "刚", "峰", "强", "亮", "磊", "勇", "鹏", "宇", "浩", "斌",
    "俊", "辉", "平", "忠", "富", "山", "龙", "涛", "波", "杰",
)  # fmt: skip
FEMALE_GIVEN = (
    "丽", "秀", "玉", "桂", "凤", "兰", "英", "华", "艳", "红", "霞", "梅", "芳", "敏", "静",
    "淑", "云", "雪", "娟", "玲", "丹", "颖", "洁", "萍", "燕", "琴", "慧", "婷", "莉", "荣",
)  # fmt: skip

#: (GB 3304 ethnicity code as the registry sends it, weight): 01 汉, 11 满, 10 朝鲜, 02 蒙古,
#: 03 回; 伊通 is a Manchu autonomous county, hence code 11's extra share there
ETHNICITIES: tuple[tuple[str, int], ...] = (
    ("01", 880),
    ("11", 70),
    ("10", 20),
    ("02", 15),
    ("03", 15),
)
#: GB 3304 code of 满族, weighted up in 伊通
MANCHU = "11"
ORG_WORDS = ("宏达", "丰源", "鑫盛", "华信", "金穗", "恒通", "东方", "聚源", "顺达", "兴农")
ORG_TRADES = (
    "商贸有限公司",
    "建筑工程有限公司",
    "农业发展有限公司",
    "物流有限公司",
    "粮食收储有限公司",
)

BANKS = ("中国农业银行四平分行", "中国建设银行四平分行", "吉林银行四平分行", "中国银行四平分行")
RURAL_BANKS = {
    "220322": "吉林梨树农村商业银行",
    "220323": "吉林伊通农村商业银行",
    "220381": "吉林公主岭农村商业银行",
    "220382": "吉林双辽农村商业银行",
}
COURTS = ("四平市中级人民法院", "四平市铁西区人民法院", "四平市铁东区人民法院", "梨树县人民法院")

VEHICLE_MODELS: tuple[tuple[str, str, str, int], ...] = (
    # (vehicle type, brand, model, weight)
    ("小型轿车", "一汽-大众", "捷达", 14),
    ("小型轿车", "一汽-大众", "速腾", 10),
    ("小型轿车", "一汽丰田", "卡罗拉", 8),
    ("小型轿车", "红旗", "H5", 6),
    ("小型轿车", "比亚迪", "秦PLUS", 5),
    ("小型普通客车", "上汽通用五菱", "宏光", 9),
    ("小型越野客车", "长城", "哈弗H6", 7),
    ("轻型普通货车", "一汽解放", "J6F", 6),
    ("重型半挂牵引车", "一汽解放", "J6P", 3),
    ("二轮摩托车", "五羊-本田", "WH125", 6),
    ("拖拉机", "东方红", "LX904", 4),
)
#: the vehicle office's status words (机动车状态) with weights
VEHICLE_STATUSES: tuple[tuple[VehicleStatus, int], ...] = (
    ("正常", 80),
    ("抵押", 10),
    ("查封", 6),
    ("报废", 4),
)
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on plates

TREE_SPECIES = ("落叶松", "红松", "樟子松", "杨树", "柞树", "白桦", "榆树", "水曲柳")
FOREST_RIGHTS = ("林地使用权", "林木所有权", "林地使用权、林木所有权")
SUBSIDY_KINDS = ("耕地地力保护补贴", "玉米生产者补贴", "大豆生产者补贴")
PROPERTY_USES = (("住宅", 80), ("商业服务", 8), ("车库", 7), ("工业", 5))
