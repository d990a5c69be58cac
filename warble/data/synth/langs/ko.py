"""Korean. Particles are written as markers, e.g. '{thing}(이)', and resolved after filling by whether the word
before them ends in a consonant (받침). Acts are verb stems that take -는/-고/-기 endings directly."""

import re

CODE = "ko"
WEIGHT = 0.05
TZ = 9
SPACED = True
CASED = False
LOWERCASE_USERS = 0.0

FIRST = "민준|서연|지호|하윤|도윤|지우|서준|수아|예준|지민|유진|현우|다은|승민|채원|태윤"
LAST = "김|이|박|최|정|강|조|윤|장|임|한|오"
HANDLE_FIRST = "minjun|seoyeon|jiho|hayun|doyun|jiwoo|seojun|sua|yejun|jimin|yujin|hyunwoo|daeun|seungmin"
HANDLE_LAST = "kim|lee|park|choi|jung|kang|cho|yoon|jang|lim|han|oh"
HANDLE_WORDS = "daily|haru|byul|love|dal|bom|sseu|moon|baby|real"

SLOTS = dict(
    pos="최고야|미쳤다|대박이야|너무 좋아|역대급이야|감동이야|완벽해|레전드야|기대 이상이야|찢었다",
    neg="별로야|최악이야|너무 비싸|지루해|실망이야|노잼이야|좀 아닌 듯|선 넘었어",
    int="진짜|완전|솔직히|레알|너무|개|정말",
    time="오늘|오늘 밤|주말에|내일|지금|이번 주|일요일에|또 오늘|하루 종일",
    open="솔직히|근데|아니|ㄹㅇ|속보:|공지:|잠깐만,|TMI:",
    close="끝.|ㄹㅇ|인정?|반박 시 님 말이 맞음|그냥 그렇다고|이상.|ㅇㅇ",
    laugh="ㅋㅋㅋ|ㅋㅋㅋㅋㅋ|ㅎㅎ|ㅋㅋㅋㅋㅋㅋㅋ|ㅠㅠ|ㅋㅋ",
)

TEMPLATES = dict(
    post="{thing}(이) {int} {pos}{emo}|{thing}(은) {pos}.|오늘은 하루 종일 {act}는 중{emo}|{time} {act}고 싶다.|"
         "요즘 {act}기에 빠졌어.|{ent}(은) {int} {pos}.|{ent}(은) {neg}, 인정하기 싫겠지만.|"
         "{num}시간 동안 {act}는데도 안 질려.|{thing} 생각만 하면 잠이 안 와.|"
         "{thing}(이랑) {thing2}(이) 같은 주라니 말도 안 돼.|"
         "{thing} {num}점 드립니다.|{ent}(은) 절대 실망 안 시켜.|{thing}(이) 머릿속에서 안 떠나.|"
         "{act}는 게 제일 좋아.|{thing}보다 {thing2}파.|{time} {thing} {pos}{emo}|"
         "{user} 덕분에 {act}기 시작했어.|{thing} 얘기만 나오면 못 멈춰.|{act}는 게 일상이 됐다.|"
         "자기 전에 {act}는 거 못 끊겠어.|{thing} 보고 울었어.",
    question="{thing} 솔직히 {neg}, 나만 그래?|{time} {act}고 싶은 사람 손!|{thing} 어떻게 생각해?|"
             "{ent} {pos}, 나만 그렇게 생각해?|지금 {act}기 시작해도 늦었을까?|"
             "{user} {time} 같이 {act}자!|{thing} 그렇게 좋아?|왜 아무도 {thing} 얘기 안 해?",
    extra="{laugh}|이제 못 하겠다.|이상입니다.|{emo}{emo}|일단 잔다.|화이팅.|할 말을 잃었다.|"
          "행복해.|졸려.|같이 갈 사람?|아직 화요일이라니.",
    news="{news}|[속보] {news}|{news}는 소식|[단독] {news}|{news}. 자세한 내용은 링크",
    reply="{pthing} {pos}, 인정.|아니 {pthing}(은) {neg}.|ㄹㅇ {emo}|완전 공감|이거 맞아|"
          "{pthing}(이) {pos}? 진심이야? {laugh}|나도 {time} {act}는 중|출처는?|그건 좀 아닌 듯|"
          "{pthing}(은) 더 인정받아야 해|{laugh} 너무 공감된다|내가 계속 하던 말|{thing} 봤어?",
    quote="이거 👇|{laugh} 누가 쓴 거야|이 말 크게 하고 싶다|저장함|{pthing} 얘기 딱 이거|"
          "이래서 {tag} 좋아함|또 이 얘기야 {laugh}|누군가는 말해야 했어",
    spam="맞팔 100% 선팔하면 맞팔해요 {tag} {tag}|[무료] 아이폰 당첨 이벤트! 지금 클릭 {link}|"
         "집에서 하루 50만원 버는 법 DM 주세요 {link}|팔로워 1000명 늘리는 법 {link}|"
         "RT+팔로우 추첨 이벤트 {tag} {tag} {tag}",
    pii_contact="티켓 문의는 {pii}로 연락 주세요|제 메일은 {pii}예요, 자료 보내주세요|"
                "예약은 {pii}로 전화|번호 바꿨어요: {pii}",
    pii_money="입금은 {pii}로 부탁드려요|카드 {pii} 계속 결제 거절되는데?|"
              "지갑 잃어버림, 카드 번호는 {pii}",
    pii_id="양식에 {pii}를 그냥 적으라니|개인정보 공개함 {pii} ㅋㅋ",
    pii_tech="서버 {pii} 또 다운됨|{pii}에서 로그인하는 사람 누구야?",
)

TOPICS = dict(
    football=dict(
        thing="더비|새 영입 선수|심판|막판 결승골|선발 명단|후반전|결승전|골키퍼|이적 시장|원정 유니폼",
        act="경기 보|풋살 하|선발 명단 얘기하|하이라이트 다시 보",
        news="{ent}, 새 공격수와 4년 계약|{ent}, 5연패 끝에 감독 경질|{ent}, 승부차기 끝에 결승 진출",
        tag="축구|K리그|더비",
    ),
    music=dict(
        thing="새 앨범|후렴|콘서트|뮤비|셋리스트|페스티벌|어쿠스틱 버전|신곡|플레이리스트",
        act="새 앨범 듣|플레이리스트 짜|기타 연습하|차에서 노래 부르",
        news="{ent}, 월드 투어 발표|{ent}, 자정에 깜짝 앨범 공개|{ent}, 공연 3회 취소",
        tag="음악|신곡|콘서트",
    ),
    movies=dict(
        thing="결말|속편|예고편|OST|반전|악역|마지막 장면|캐스팅|쿠키 영상",
        act="혼자 영화 보|드라마 정주행하|3부작 다시 보",
        news="{ent}, 개봉 첫 주 흥행 기록 경신|{ent} 속편 제작 확정|{ent} 예고편 드디어 공개",
        tag="영화|드라마|넷플릭스",
    ),
    gaming=dict(
        thing="새 패치|최종 보스|배틀패스|오픈월드|협동 모드|랭크 게임|DLC|스피드런|드랍률",
        act="친구들이랑 게임하|랭크 올리|밤에 방송하|스토리 모드 깨",
        news="{ent}, 깜짝 업데이트 공개|{ent} 서버 또 다운|{ent} 출시일 확정",
        tag="게임|게이머|스팀",
    ),
    kpop=dict(
        thing="컴백|안무|티저|직캠|응원봉|월드 투어|뮤비|음방 무대|팬미팅|콘셉트 포토",
        act="뮤비 스밍하|안무 따라하|음방 투표하|앨범 전 버전 사",
        news="{ent}, 다음 달 컴백 확정|{ent}, 음악방송 1위|{ent}, 월드 투어 추가 공연 발표",
        tag="케이팝|컴백|스밍",
    ),
    politics=dict(
        thing="예산안|토론회|개혁안|선거|증세안|장관 브리핑|야당|최신 여론조사|선거 운동",
        act="토론 보|법안 읽|여론조사 확인하",
        news="국회, 밤샘 끝에 {thing} 통과|정부, {thing} 발표|최신 여론조사 초접전",
        tag="정치|선거",
    ),
    tech=dict(
        thing="업데이트|새 폰|배터리|AI 비서|베타 버전|새 노트북|다크 모드|앱 리디자인|카메라",
        act="새벽에 코딩하|새 노트북 세팅하|베타 테스트하|사이드 프로젝트 하",
        news="{ent} 공개, 배터리 대폭 개선|{ent} 출시 내년으로 연기|{ent}에서 보안 취약점 발견",
        tag="IT|AI|개발자",
    ),
    cooking=dict(
        ent="김치찌개|떡볶이|비빔밥|불고기|김밥|된장찌개|잡채|호떡",
        thing="이 레시피|소스|홈메이드 빵|찌개|디저트|반죽|할머니 된장국|브런치|뚝배기",
        act="빵 굽|친구들한테 요리해주|새 레시피 시도하|밀프렙 하",
        news="식료품 가격 또 인상|작은 분식집이 맛집으로 화제",
        tag="요리|집밥|레시피",
    ),
    crypto=dict(
        thing="폭락장|시장|포트폴리오|새 토큰|차트|반감기|에어드랍|수수료|지갑",
        act="저점 매수하|차트 보|스테이킹하|지갑 확인하",
        news="{ent}, 하룻밤 새 12% 급등|{ent}, 주요 지지선 붕괴|거래소 새 규제안 발표",
        tag="코인|비트코인",
    ),
    fitness=dict(
        thing="하체 데이|개인 기록|프로틴|루틴|헬스장|하프 마라톤|유산소|스트레칭|휴식일",
        act="헬스장 가|빗속에서 뛰|요가하|고중량 치|마라톤 준비하",
        news="짧은 운동도 효과는 같다는 연구 결과|시민 마라톤 1시간 만에 마감",
        tag="운동|헬스|오운완",
    ),
    travel=dict(
        ent="리스본|교토|멕시코시티|제주도|마라케시|타이베이|발리|부산|이스탄불",
        thing="비행기|경유|호텔|풍경|기차 여행|여권|길거리 음식|해변|게스트하우스|노을",
        act="짐 싸|다음 여행 계획하|구시가지 걷|싼 항공권 찾",
        news="{ent} 신규 노선 여름 취항|공항 파업으로 대규모 지연",
        tag="여행|여행스타그램",
    ),
    fashion=dict(
        thing="신상 컬렉션|이 재킷|런웨이|오늘 코디|스니커즈 발매|빈티지 옷|캠페인",
        act="빈티지 숍 구경하|코디 고민하|세일 쇼핑하|옷 직접 리폼하",
        news="{ent}, 봄 컬렉션 공개|{ent} 스니커즈 몇 분 만에 품절",
        tag="패션|데일리룩|오오티디",
    ),
    pets=dict(
        thing="우리 강아지|우리 고양이|아기 강아지|동물병원|산책|새 장난감|입양|목욕 시간|아기 고양이",
        act="강아지 산책시키|고양이 자는 거 구경하|반려동물 사진 찍|강아지 훈련하",
        news="보호소, 이번 주말 입양비 면제|올해 입양 건수 역대 최다",
        tag="강아지|고양이|입양",
    ),
    climate=dict(
        thing="폭염|산불|기후 보고서|새 자전거 도로|가뭄|태풍|탄소세|정상회의|재활용 계획",
        act="자전거로 출근하|분리수거 열심히 하|태양광 패널 설치하|기후 행진 참여하",
        news="올여름 관측 이래 가장 더웠다|정상회의 합의 없이 종료",
        tag="기후위기|폭염|환경",
    ),
    books=dict(
        thing="마지막 장|결말 반전|읽을 책 목록|후속작|독서 모임|오디오북|표지|주인공|결말",
        act="침대에서 책 읽|좋아하는 책 다시 읽|도서관 가|책 한 번에 다 읽",
        news="{ent}, 문학상 수상|도서관 대출 건수 역대 최다",
        tag="독서|책스타그램|책추천",
    ),
    space=dict(
        thing="발사|일식|유성우|망원경 사진|로켓|오늘 밤하늘|보름달|우주정거장|혜성",
        act="별 보|발사 생중계 보|달 사진 찍",
        news="악천후로 발사 연기|천문학자들, 새 혜성 발견",
        tag="우주|천체관측|밤하늘",
    ),
)

_PARTICLES = {"은": ("은", "는"), "이": ("이", "가"), "을": ("을", "를"), "과": ("과", "와"),
              "이랑": ("이랑", "랑"), "이야": ("이야", "야"), "아": ("아", "야")}
_MARKER = re.compile(r"(\S)\((은|이|을|과|이랑|이야|아)\)")
_LATIN_CODA = set("lmnkptLMNKPT013678")  # Latin letters and digits whose Korean reading ends in a consonant


def _has_coda(ch: str) -> bool:
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28 != 0
    return ch in _LATIN_CODA


def finish(text: str) -> str:
    """Resolve '(이)' markers: 이 after a consonant, 가 after a vowel, and so on for each particle."""
    if "(" not in text:
        return text
    return _MARKER.sub(lambda m: m.group(1) + _PARTICLES[m.group(2)][0 if _has_coda(m.group(1)) else 1], text)
