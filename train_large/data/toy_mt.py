"""Synthetic English-to-French translation corpus ("toy_mt") for fast, offline experiments.

Owns the toy grammar, its two vocabularies and the raw `{split}.{lang}` text files that the
preprocessing step feeds to sentencepiece. The mapping is deliberately not a word cipher: most
French adjectives follow the noun; articles, adjectives and past participles agree with a noun
gender that the English side never shows; verbs conjugate for person and tense; negation wraps
the finite verb; object pronouns move before it; questions use "est-ce que"; time adverbs move
to the front. Pure standard library: this module must not import fairseq or torch.
"""
from __future__ import annotations

import random
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, Optional, TypeVar

# "english french gender"; "english/plural" overrides an English plural the rules get wrong.
_NOUN_TEXT = """
cat chat m, dog chien m, horse cheval m, bird oiseau m, fish/fish poisson m, mouse/mice souris f, cow vache f,
goat chèvre f, rabbit lapin m, fox renard m, bear ours m, lion lion m, tiger tigre m, snake serpent m,
duck canard m, frog grenouille f, bee abeille f, spider araignée f, hen poule f, pig cochon m, monkey singe m,
man/men homme m, woman/women femme f, child/children enfant m, boy garçon m, girl fille f,
teacher professeur m, student étudiante f, doctor médecin m, farmer fermier m, king roi m, queen reine f,
baker boulangère f, soldier soldat m, nurse infirmière f, lawyer avocat m, neighbor voisine f, friend ami m,
brother frère m, sister soeur f, mother mère f, father père m, uncle oncle m, aunt tante f, cook cuisinier m,
painter peintre m, singer chanteuse f, thief/thieves voleur m, guard gardienne f, house maison f,
car voiture f, book livre m, table table f, chair chaise f, door porte f, window fenêtre f, key clé f,
box boîte f, bottle bouteille f, cup tasse f, knife/knives couteau m, bed lit m, lamp lampe f,
clock horloge f, letter lettre f, newspaper journal m, picture tableau m, song chanson f, ball balle f,
bicycle vélo m, boat bateau m, train train m, truck camion m, plane avion m, bag sac m, hat chapeau m,
shoe chaussure f, shirt chemise f, dress robe f, coat manteau m, ring bague f, flower fleur f, tree arbre m,
apple pomme f, cake gâteau m, egg oeuf m, pencil crayon m, pen stylo m, computer ordinateur m,
phone téléphone m, gift cadeau m, toy jouet m, garden jardin m, kitchen cuisine f, school école f,
church église f, street rue f, river rivière f, forest forêt f, bridge pont m, castle château m,
village village m, city ville f, farm ferme f, shop boutique f, market marché m, station gare f,
beach plage f, mountain montagne f, lake lac m, field champ m, island île f, park parc m,
library bibliothèque f, hospital hôpital m, office bureau m, room chambre f, road route f, wall mur m,
roof toit m
"""
# "english french_masc[/french_fem]"; a leading "*" marks the few French adjectives that precede.
_ADJ_TEXT = """
red rouge, blue bleu, green vert, black noir, white blanc/blanche, yellow jaune, grey gris, brown brun,
*big grand, *small petit, *old vieux/vieille, *young jeune, *beautiful beau/belle, *new nouveau/nouvelle,
*good bon/bonne, *bad mauvais, *long long/longue, happy heureux/heureuse, sad triste, angry fâché,
tired fatigué, rich riche, poor pauvre, clean propre, dirty sale, heavy lourd, light léger/légère, hot chaud,
cold froid, strong fort, fast rapide, slow lent, strange étrange, famous célèbre, lazy paresseux/paresseuse,
brave courageux/courageuse, clever intelligent, empty vide, full plein, expensive cher/chère
"""
# "english[/past] french_infinitive"; every French verb is a regular -er verb.
_TRANSITIVE_TEXT = """
watch regarder, like aimer, love adorer, help aider, visit visiter, wash laver, carry porter, push pousser,
pull tirer, touch toucher, hit/hit frapper, kiss embrasser, greet saluer, chase chasser, hate détester,
admire admirer, find/found trouver, search fouiller, steal/stole voler, cook cuisiner, save sauver,
attack attaquer, fix réparer, draw/drew dessiner, forget/forgot oublier, catch/caught attraper,
bring/brought apporter, meet/met rencontrer, show montrer, hide/hid cacher
"""
_INTRANSITIVE_TEXT = """
walk marcher, dance danser, sing/sang chanter, work travailler, jump sauter, laugh rigoler, cry pleurer,
shout crier, play jouer, talk parler
"""
_NAMES = (("John", "Jean"), ("Mary", "Marie"), ("Peter", "Pierre"), ("James", "Jacques"),
          ("Michael", "Michel"), ("Stephen", "Étienne"), ("Helen", "Hélène"), ("Joan", "Jeanne"),
          ("Margaret", "Marguerite"), ("Lucy", "Lucie"), ("William", "Guillaume"), ("George", "Georges"))
# Persons index French conjugation tables: 0=je 1=tu 2=il/elle 3=nous 4=vous 5=ils.
_SUBJECT_PRONOUNS = (("I", "je", 0), ("you", "vous", 4), ("he", "il", 2), ("she", "elle", 2),
                     ("we", "nous", 3), ("they", "ils", 5))
# (english, french clitic, person, (feminine, plural) for participle agreement or None).
_OBJECT_PRONOUNS = (("me", "me", 0, None), ("you", "vous", 4, None), ("him", "le", 2, (False, False)),
                    ("her", "la", 2, (True, False)), ("us", "nous", 3, None), ("them", "les", 5, (False, True)))
_SINGULAR_DETS = (("the", "le", "la"), ("a", "un", "une"), ("this", "ce", "cette"), ("my", "mon", "ma"))
_SINGULAR_DET_WEIGHTS = (5, 3, 1, 1)
_PLURAL_DETS = (("the", "les"), ("these", "ces"), ("my", "mes"), ("", "des"))
_NUMBERS = (("two", "deux"), ("three", "trois"), ("four", "quatre"), ("five", "cinq"), ("six", "six"),
            ("seven", "sept"), ("eight", "huit"), ("nine", "neuf"), ("ten", "dix"))
_PREPOSITIONS = (("in", "dans"), ("on", "sur"), ("under", "sous"), ("with", "avec"), ("without", "sans"),
                 ("behind", "derrière"), ("for", "pour"), ("toward", "vers"), ("against", "contre"),
                 ("after", "après"))
_CONJUNCTIONS = (("and", "et"), ("but", "mais"), ("because", "parce que"))
_ADVERBS = (("now", "maintenant"), ("yesterday", "hier"), ("tomorrow", "demain"))  # by tense
_PRESENT, _FUTURE = ("e", "es", "e", "ons", "ez", "ent"), ("ai", "as", "a", "ons", "ez", "ont")
_AVOIR = ("ai", "as", "a", "avons", "avez", "ont")
_ELIDED = frozenset({"le", "la", "je", "ne", "me", "que"})
_EUPHONIC = {"ce": "cet", "ma": "mon"}
_FR_VOWELS = "aeiouhéèêàâîôû"
_MIN_WORDS, _MAX_WORDS = 4, 25
Words = list[str]
T = TypeVar("T")


_Noun = NamedTuple("_Noun", [("en", str), ("en_plural", str), ("fr", str), ("feminine", bool)])
_Adj = NamedTuple("_Adj", [("en", str), ("fr_masc", str), ("fr_fem", str), ("prenominal", bool)])
_Verb = NamedTuple("_Verb", [("en", str), ("en_past", str), ("fr", str)])


def _entries(text: str) -> list[tuple[str, ...]]:
    return [tuple(item.split()) for item in text.replace("\n", " ").split(",") if item.strip()]


def _forms(field: str, derive: Callable[[str], str]) -> tuple[str, str]:
    """"base/other" gives both forms; a bare "base" derives the other by rule."""
    base, _, other = field.partition("/")
    return base, other or derive(base)


def en_suffix_s(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _en_past(word: str) -> str:
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ied"
    return word + "ed"


def _fr_feminine(word: str) -> str:
    return word if word.endswith("e") else word + "e"


def _fr_plural(word: str) -> str:
    if word.endswith(("s", "x", "z")):
        return word
    if word.endswith("eau"):
        return word + "x"
    return word[:-2] + "aux" if word.endswith("al") else word + "s"


_NOUNS = tuple(_Noun(*_forms(en, en_suffix_s), fr, gender == "f") for en, fr, gender in _entries(_NOUN_TEXT))
_ADJS = tuple(_Adj(en.lstrip("*"), *_forms(fr, _fr_feminine), en.startswith("*"))
              for en, fr in _entries(_ADJ_TEXT))
_TRANSITIVE = tuple(_Verb(*_forms(en, _en_past), fr) for en, fr in _entries(_TRANSITIVE_TEXT))
_INTRANSITIVE = tuple(_Verb(*_forms(en, _en_past), fr) for en, fr in _entries(_INTRANSITIVE_TEXT))


class Lexicon(NamedTuple):
    """The content words a grammar draws from; names, pronouns and function words are always all there."""
    nouns: tuple[_Noun, ...] = _NOUNS
    adjectives: tuple[_Adj, ...] = _ADJS
    transitive: tuple[_Verb, ...] = _TRANSITIVE
    intransitive: tuple[_Verb, ...] = _INTRANSITIVE


FULL_LEXICON = Lexicon()


def _en_verb(verb: _Verb, tense: int, person: int, neg: bool, question: bool) -> tuple[Optional[str], Words]:
    """English verb group; in a question the auxiliary is returned separately to go before the subject."""
    third = person == 2
    aux = ("does" if third else "do", "did", "will")[tense]
    if question:
        return aux, [verb.en]
    if neg:
        return None, [aux, "not", verb.en]
    if tense == 2:
        return None, ["will", verb.en]
    return None, [verb.en_past if tense == 1 else (en_suffix_s(verb.en) if third else verb.en)]


def _fr_verb(inf: str, tense: int, person: int, neg: bool, clitic: Optional[str],
             agree: Optional[tuple[bool, bool]]) -> Words:
    """French verb group: present, future, or passé composé whose participle agrees with a preceding object."""
    stem, tail = inf[:-2], []
    if tense == 0:
        finite = stem + _PRESENT[person]
    elif tense == 2:
        finite = inf + _FUTURE[person]
    else:
        feminine, plural = agree or (False, False)
        finite = _AVOIR[person]
        tail = [stem + "é" + ("e" if feminine else "") + ("s" if plural else "")]
    words = ([clitic] if clitic else []) + [finite]
    if neg:
        words = ["ne", *words, "pas"]
    return words + tail


def _elide(words: Words) -> Words:
    """Apply French elision (l'arbre, n'a, qu'il) and euphony (cet, mon école), right to left so chains work."""
    out: Words = []
    for word in reversed(words):
        follows_vowel = bool(out) and out[-1][0].lower() in _FR_VOWELS
        if follows_vowel and word in _ELIDED:
            out[-1] = word[:-1] + "'" + out[-1]
        else:
            out.append(_EUPHONIC.get(word, word) if follows_vowel else word)
    return out[::-1]


def _finish(words: Words, end: str) -> str:
    text = " ".join(words) + end
    return text[0].upper() + text[1:]


class _Grammar:
    """Sentence generator; `depth` bounds nesting so PPs and relative clauses cannot recurse forever.

    A smaller `lexicon` restricts the content words (it needs two adjectives and a verb of each
    kind); the default, the full lexicon, gives toy_mt's sentences.
    """

    def __init__(self, seed: int | str, lexicon: Lexicon = FULL_LEXICON) -> None:
        if len(lexicon.adjectives) < 2 or not all(lexicon):
            raise ValueError("a lexicon needs nouns, transitive and intransitive verbs, and two adjectives")
        self.rng = random.Random(seed)
        self.lexicon = lexicon
        self.complexity = 0.3

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pair(self) -> tuple[str, str]:
        while True:
            # A per-sentence complexity spreads lengths from 4 to 25 words instead of one narrow band.
            self.complexity = self.rng.uniform(0.05, 0.8)
            src, tgt, end = self.sentence()
            if _MIN_WORDS <= len(src) <= _MAX_WORDS:
                return _finish(src, end), _finish(_elide(tgt), end)

    def sentence(self) -> tuple[Words, Words, str]:
        if self.chance(0.1):
            src, tgt, _ = self.clause(question=True)
            return src, ["est-ce", "que", *tgt], "?"
        src, tgt, tense = self.clause()
        if self.chance(self.complexity * 0.5):
            en, fr = self.rng.choice(_CONJUNCTIONS)
            src2, tgt2, _ = self.clause()
            return src + [en] + src2, tgt + fr.split() + tgt2, "."
        if self.chance(0.15):
            en, fr = _ADVERBS[tense]
            return src + [en], [fr + ",", *tgt], "."
        return src, tgt, "."

    def clause(self, question: bool = False) -> tuple[Words, Words, int]:
        subj_src, subj_tgt, person = self.subject(0)
        aux, vp_src, vp_tgt, tense = self.verb_phrase(0, person, question=question)
        return ([aux] if aux else []) + subj_src + vp_src, subj_tgt + vp_tgt, tense

    def subject(self, depth: int) -> tuple[Words, Words, int]:
        roll = self.rng.random()
        if roll < 0.25:
            en, fr, person = self.rng.choice(_SUBJECT_PRONOUNS)
            return [en], [fr], person
        if roll < 0.37:
            en, fr = self.rng.choice(_NAMES)
            return [en], [fr], 2
        if roll < 0.45 and depth == 0:
            src1, tgt1, _, _ = self.noun_phrase(depth + 1)
            src2, tgt2, _, _ = self.noun_phrase(depth + 1)
            return src1 + ["and"] + src2, tgt1 + ["et"] + tgt2, 5
        src, tgt, _, plural = self.noun_phrase(depth)
        return src, tgt, 5 if plural else 2

    def noun_phrase(self, depth: int) -> tuple[Words, Words, bool, bool]:
        noun, plural = self.rng.choice(self.lexicon.nouns), self.chance(0.35)
        if plural:
            en_det, fr_det = self.rng.choice(_NUMBERS if self.chance(0.25) else _PLURAL_DETS)
        else:
            en_det, fr_masc, fr_fem = self.rng.choices(_SINGULAR_DETS, _SINGULAR_DET_WEIGHTS)[0]
            fr_det = fr_fem if noun.feminine else fr_masc
        adj_count = self.chance(self.complexity) + self.chance(self.complexity * 0.4)
        adjs = self.rng.sample(self.lexicon.adjectives, adj_count)
        forms = [(adj.prenominal, adj.fr_fem if noun.feminine else adj.fr_masc) for adj in adjs]
        src = [adj.en for adj in adjs] + [noun.en_plural if plural else noun.en]
        if en_det:
            src.insert(0, "an" if en_det == "a" and src[0][0] in "aeiou" else en_det)
        words = [form for pre, form in forms if pre] + [noun.fr] + [form for pre, form in forms if not pre]
        tgt = [fr_det] + ([_fr_plural(word) for word in words] if plural else words)
        if depth < 2 and self.chance(self.complexity * 0.3):
            pp_src, pp_tgt = self.prep_phrase(depth + 1)
            src, tgt = src + pp_src, tgt + pp_tgt
        if depth == 0 and self.chance(self.complexity * 0.35):
            rel_src, rel_tgt = self.relative(depth + 1, noun.feminine, plural)
            src, tgt = src + rel_src, tgt + rel_tgt
        return src, tgt, noun.feminine, plural

    def noun_or_name(self, depth: int) -> tuple[Words, Words]:
        if self.chance(0.15):
            en, fr = self.rng.choice(_NAMES)
            return [en], [fr]
        src, tgt, _, _ = self.noun_phrase(depth)
        return src, tgt

    def prep_phrase(self, depth: int) -> tuple[Words, Words]:
        en, fr = self.rng.choice(_PREPOSITIONS)
        src, tgt = self.noun_or_name(depth)
        return [en, *src], [fr, *tgt]

    def relative(self, depth: int, feminine: bool, plural: bool) -> tuple[Words, Words]:
        if self.chance(0.5):
            _, src, tgt, _ = self.verb_phrase(depth, 5 if plural else 2)
            return ["that", *src], ["qui", *tgt]
        # Object relative: the head noun is the gap, so a French participle agrees with it.
        subj_src, subj_tgt, person = self.subject(depth)
        _, src, tgt, _ = self.verb_phrase(depth, person, gap=(feminine, plural))
        return ["that", *subj_src, *src], ["que", *subj_tgt, *tgt]

    def verb_phrase(self, depth: int, person: int, *, question: bool = False,
                    gap: Optional[tuple[bool, bool]] = None) -> tuple[Optional[str], Words, Words, int]:
        tense, neg = self.rng.randrange(3), not question and self.chance(0.2)
        transitive = gap is not None or self.chance(0.75)
        verb = self.rng.choice(self.lexicon.transitive if transitive else self.lexicon.intransitive)
        clitic, agree, obj_src, obj_tgt = None, gap, [], []
        if transitive and gap is None:
            en, fr, obj_person, obj_agree = self.rng.choice(_OBJECT_PRONOUNS)
            # "I watch me" would need a reflexive, which this grammar does not model.
            if self.chance(0.2) and not (obj_person == person and person in (0, 3, 4)):
                obj_src, clitic, agree = [en], fr, obj_agree
            else:
                obj_src, obj_tgt = self.noun_or_name(depth)
        aux, src = _en_verb(verb, tense, person, neg, question)
        src, tgt = src + obj_src, _fr_verb(verb.fr, tense, person, neg, clitic, agree) + obj_tgt
        if depth == 0 and self.chance(self.complexity * 0.5):
            pp_src, pp_tgt = self.prep_phrase(depth + 1)
            src, tgt = src + pp_src, tgt + pp_tgt
        return aux, src, tgt, tense


def _pair_stream(seed: int | str, lexicon: Lexicon = FULL_LEXICON) -> Iterator[tuple[str, str]]:
    return iter(_Grammar(seed, lexicon).pair, None)  # unbounded: pair() never returns None


def english_sentences(seed: int | str, lexicon: Lexicon = FULL_LEXICON) -> Iterator[str]:
    """The grammar's English sentences, unbounded, drawing content words from `lexicon`."""
    return (source for source, _ in _pair_stream(seed, lexicon))


def unseen(items: Iterable[T], used: set[str], *, key: Callable[[T], str] = str,
           remember: bool = False) -> Iterator[T]:
    """The items whose `key` is not in `used`; with `remember`, each one yielded joins it."""
    for item in items:
        if key(item) not in used:
            if remember:
                used.add(key(item))
            yield item


def write_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")


def toy_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (source, target) sentence pairs, deterministic in `seed`."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return list(islice(_pair_stream(seed), count))


def write_toy_corpus(raw_dir: Path, *, seed: int = 0, train: int = 40_000, valid: int = 1_000,
                     test: int = 1_000, source_lang: str = "en", target_lang: str = "fr") -> dict[str, int]:
    """Write raw_dir/{train,valid,test}.{source_lang,target_lang}, the two files of a split
    line-aligned, no valid or test source sentence in train. Returns pairs per split."""
    if min(train, valid, test) < 0:
        raise ValueError(f"split sizes must be >= 0, got train={train} valid={valid} test={test}")
    if source_lang == target_lang:
        raise ValueError(f"source and target language must differ, both are {source_lang!r}")
    stream, held_out, source = _pair_stream(seed), set[str](), itemgetter(0)
    # Held-out splits are drawn first so they do not change when only the train size changes.
    splits = {name: list(islice(unseen(stream, held_out, key=source, remember=True), size))
              for name, size in (("valid", valid), ("test", test))}
    splits["train"] = list(islice(unseen(stream, held_out, key=source), train))
    for name, pairs in splits.items():
        for column, lang in enumerate((source_lang, target_lang)):
            write_lines(raw_dir / f"{name}.{lang}", (pair[column] for pair in pairs))
    return {name: len(splits[name]) for name in ("train", "valid", "test")}
