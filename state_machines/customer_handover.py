"""Customer handover: after the first deal, sales hands the customer to customer success with a
card that states its upsell potential. Customer success accepts the card (or returns it for
missing facts) and makes the welcome call that starts the relationship."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "customer_handover",
        "label": {"ru": "Передача клиента в сервис", "en": "Customer handover", "pl": "Przekazanie klienta"},
        "description": {
            "ru": "Продажи передают клиента клиентскому сервису вместе с потенциалом допродаж.",
            "en": "Sales hands a customer over to customer success together with its upsell potential.",
            "pl": "Sprzedaż przekazuje klienta do obsługi klienta wraz z potencjałem sprzedaży dodatkowej.",
        },
        "definitions": [
            {
                "term": {"ru": "Потенциал допродаж", "en": "Upsell potential", "pl": "Potencjał sprzedaży dodatkowej"},
                "definition": {
                    "ru": "Потенциал допродаж — это оценка того, что ещё клиент может купить в ближайшие "
                    "полгода. Менеджер по продажам указывает в карточке передачи товарные группы и ожидаемую "
                    "сумму. Клиентский сервис не принимает карточку без этой оценки. На её основе сервис "
                    "строит план работы с клиентом после приветственного звонка.",
                    "en": "Upsell potential is an estimate of what else the customer may buy in the next six "
                    "months. The sales manager states the product groups and the expected amount in the handover "
                    "card. Customer success does not accept a card without this estimate. It builds its plan "
                    "for the customer on it after the welcome call.",
                    "pl": "Potencjał sprzedaży dodatkowej to ocena, co jeszcze klient może kupić w ciągu pół "
                    "roku. Handlowiec podaje w karcie przekazania grupy produktów i oczekiwaną kwotę. Obsługa "
                    "klienta nie przyjmuje karty bez tej oceny. Na jej podstawie układa plan pracy z klientem "
                    "po rozmowie powitalnej.",
                },
            }
        ],
        "requester": "sales",
        "performer": "customer_success",
        "initial": "acceptance",
        "open_requires": ["customer", "deal", "upsell_potential"],
        "target": "32h",
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "deal": {"label": {"ru": "Сделка", "en": "Deal", "pl": "Transakcja"}},
            "upsell_potential": {"label": {
                "ru": "Потенциал допродаж", "en": "Upsell potential", "pl": "Potencjał dosprzedaży"
            }},
            "account_manager": {"label": {"ru": "Менеджер клиента", "en": "Account manager", "pl": "Opiekun klienta"}},
            "missing": {"label": {"ru": "Чего не хватает", "en": "What is missing", "pl": "Czego brakuje"}},
            "answer": {"label": {"ru": "Ответ", "en": "Answer", "pl": "Odpowiedź"}},
            "upsell_plan": {"label": {"ru": "План допродаж", "en": "Upsell plan", "pl": "Plan dosprzedaży"}},
        },
        "states": {
            "acceptance": {
                "label": {"ru": "Приём карточки клиента", "en": "Accepting the handover card",
                          "pl": "Przyjęcie karty klienta"},
                "department": "customer_success",
                "role": "manager",
                "target": "8h",
            },
            "card_completion": {
                "label": {"ru": "Дополнение карточки", "en": "Completing the card", "pl": "Uzupełnienie karty"},
                "department": "sales",
                "role": "manager",
                "target": "4h",
            },
            "welcome_call": {
                "label": {"ru": "Приветственный звонок", "en": "Welcome call", "pl": "Rozmowa powitalna"},
                "department": "customer_success",
                "role": "manager",
                "target": "16h",
            },
            "handed_over": {"label": {"ru": "Клиент передан", "en": "Handed over", "pl": "Przekazano"},
                            "terminal": True},
        },
        "transitions": [
            {"trigger": "accept",
             "label": {"ru": "Принять", "en": "Accept", "pl": "Przyjmij"},
             "source": "acceptance", "dest": "welcome_call", "allowed": ["customer_success"],
             "requires": ["account_manager"]},
            {"trigger": "return_card",
             "label": {"ru": "Вернуть карточку", "en": "Return the card", "pl": "Zwróć kartę"},
             "source": "acceptance", "dest": "card_completion",
             "allowed": ["customer_success"], "requires": ["missing"]},
            {"trigger": "resubmit",
             "label": {"ru": "Отправить повторно", "en": "Resubmit", "pl": "Wyślij ponownie"},
             "source": "card_completion", "dest": "acceptance", "allowed": ["sales"],
             "requires": ["answer"]},
            {"trigger": "contacted",
             "label": {"ru": "Клиент на связи", "en": "Customer contacted", "pl": "Kontakt z klientem"},
             "source": "welcome_call", "dest": "handed_over", "allowed": ["customer_success"],
             "requires": ["upsell_plan"]},
        ],
    }
)
