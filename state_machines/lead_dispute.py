"""Lead dispute: sales marks a lead as non-target with a reason; marketing accepts (the lead
leaves its qualified-lead count) or rejects with a justification; the commercial director
arbitrates a rejection. Its outcomes are the lead-quality figures (`reports.outcomes.lead_figures`)."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "lead_dispute",
        "label": {"ru": "Спор о качестве лида", "en": "Lead quality dispute", "pl": "Spór o jakość leada"},
        "description": {
            "ru": (
                "Продажи оспаривают качество лида, маркетинг соглашается или возражает, спор решает "
                "коммерческий директор."
            ),
            "en": (
                "Sales disputes a lead's quality, marketing accepts or objects, and the commercial director "
                "decides."
            ),
            "pl": (
                "Sprzedaż kwestionuje jakość leada, marketing się zgadza lub nie, a spór rozstrzyga dyrektor "
                "handlowy."
            ),
        },
        "definitions": [
            {
                "term": {
                    "ru": "Спор о качестве лида",
                    "en": "Lead quality dispute",
                    "pl": "Spór o jakość leada",
                },
                "definition": {
                    "ru": (
                        "Спор о качестве лида — это заявление продаж, что лид нецелевой, с указанием причины. "
                        "Маркетинг проверяет лид и либо соглашается, либо обосновывает, почему лид целевой. "
                        "Если стороны не договорились, решение принимает коммерческий директор. Принятый спор "
                        "исключает лид из числа квалифицированных лидов маркетинга."
                    ),
                    "en": (
                        "A lead quality dispute is sales' statement, with a reason, that a lead is non-target. "
                        "Marketing reviews the lead and either agrees or justifies why the lead is on target. "
                        "When the two disagree, the commercial director decides. An accepted dispute removes "
                        "the lead from marketing's qualified leads."
                    ),
                    "pl": (
                        "Spór o jakość leada to oświadczenie sprzedaży, z podaniem przyczyny, że lead jest "
                        "niecelowy. Marketing sprawdza leada i albo się zgadza, albo uzasadnia, dlaczego lead "
                        "jest celowy. Gdy strony się nie zgadzają, decyduje dyrektor handlowy. Przyjęty spór "
                        "usuwa leada z kwalifikowanych leadów marketingu."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "marketing",
        "initial": "review",
        "open_requires": ["lead_id", "reason"],
        "target": "24h",
        "fields": {
            "lead_id": {"label": {"ru": "Лид", "en": "Lead", "pl": "Lead"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "justification": {"label": {"ru": "Обоснование", "en": "Justification", "pl": "Uzasadnienie"}},
            "decision": {"label": {"ru": "Решение", "en": "Decision", "pl": "Decyzja"}},
        },
        "states": {
            "review": {
                "label": {"ru": "Проверка маркетингом", "en": "Marketing review", "pl": "Weryfikacja marketingu"},
                "department": "marketing",
                "role": "marketer",
                "target": "8h",
            },
            "arbitration": {
                "label": {
                    "ru": "Арбитраж коммерческого директора",
                    "en": "Commercial director arbitration",
                    "pl": "Arbitraż dyrektora handlowego",
                },
                "department": "commercial",
                "role": "head",
                "target": "16h",
            },
            "accepted": {
                "label": {"ru": "Лид нецелевой", "en": "Lead is non-target", "pl": "Lead niecelowy"},
                "terminal": True,
            },
            "kept": {
                "label": {"ru": "Лид целевой", "en": "Lead stays qualified", "pl": "Lead celowy"},
                "terminal": True,
            },
            "withdrawn": {"label": {"ru": "Отозван", "en": "Withdrawn", "pl": "Wycofany"}, "terminal": True},
        },
        "transitions": [
            {"trigger": "accept",
             "label": {"ru": "Принять", "en": "Accept", "pl": "Przyjmij"},
             "source": "review", "dest": "accepted", "allowed": ["marketing"]},
            {
                "trigger": "reject",
                "label": {"ru": "Отклонить", "en": "Reject", "pl": "Odrzuć"},
                "source": "review",
                "dest": "arbitration",
                "allowed": ["marketing"],
                "requires": ["justification"],
            },
            {
                "trigger": "rule_for_sales",
                "label": {"ru": "Решить в пользу продаж", "en": "Rule for sales", "pl": "Na korzyść sprzedaży"},
                "source": "arbitration",
                "dest": "accepted",
                "allowed": ["commercial/head"],
                "requires": ["decision"],
            },
            {
                "trigger": "rule_for_marketing",
                "label": {
                    "ru": "Решить в пользу маркетинга", "en": "Rule for marketing", "pl": "Na korzyść marketingu"
                },
                "source": "arbitration",
                "dest": "kept",
                "allowed": ["commercial/head"],
                "requires": ["decision"],
            },
            {"trigger": "withdraw",
             "label": {"ru": "Отозвать", "en": "Withdraw", "pl": "Wycofaj"},
             "source": ["review", "arbitration"], "dest": "withdrawn", "allowed": ["sales"]},
        ],
        "outcomes": {
            "accepted": {
                "label": {"ru": "Принято (лид нецелевой)", "en": "Accepted (non-target)", "pl": "Przyjęte (niecelowy)"},
                "states": ["accepted"],
            },
            "accepted_by_marketing": {
                "label": {"ru": "Принято маркетингом", "en": "Accepted by marketing", "pl": "Przyjęte przez marketing"},
                "states": ["accepted"],
                "triggers": ["accept"],
            },
            "accepted_on_arbitration": {
                "label": {"ru": "Принято арбитражем", "en": "Accepted on arbitration", "pl": "Przyjęte w arbitrażu"},
                "states": ["accepted"],
                "triggers": ["rule_for_sales"],
            },
            "kept": {
                "label": {
                    "ru": "Отклонено (лид целевой)", "en": "Rejected (lead kept)", "pl": "Odrzucone (lead celowy)"
                },
                "states": ["kept"],
            },
            "withdrawn": {"label": {"ru": "Отозвано", "en": "Withdrawn", "pl": "Wycofane"}, "states": ["withdrawn"]},
        },
    }
)
