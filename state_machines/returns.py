"""Return: sales registers the customer's request; the warehouse (or quality) inspects the goods
and decides if the return is justified; logistics collects them (urgently when the customer is
unreliable); accounting refunds or issues a credit note."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "return",
        "label": {"ru": "Возврат товара", "en": "Product return", "pl": "Zwrot towaru"},
        "description": {
            "ru": (
                "Склад проверяет возвращаемый товар, логистика забирает его, бухгалтерия возвращает деньги."
            ),
            "en": (
                "The warehouse inspects returned goods, logistics collects them and accounting refunds the "
                "customer."
            ),
            "pl": (
                "Magazyn sprawdza zwracany towar, logistyka go odbiera, a księgowość zwraca pieniądze."
            ),
        },
        "definitions": [
            {
                "term": {
                    "ru": "Обоснованный возврат",
                    "en": "Justified return",
                    "pl": "Uzasadniony zwrot",
                },
                "definition": {
                    "ru": (
                        "Обоснованный возврат — это возврат, который склад или отдел качества признал законным "
                        "после осмотра товара. Основания: брак, пересорт, повреждение при доставке или право "
                        "клиента на возврат по договору. Решение записывается с заметками осмотра и больше не "
                        "пересматривается продажами. Только после него логистика забирает товар, а бухгалтерия "
                        "возвращает деньги."
                    ),
                    "en": (
                        "A justified return is one the warehouse or quality accepted as valid after inspecting "
                        "the goods. The grounds are a defect, a wrong item, damage in delivery or the "
                        "customer's contractual right to return. The decision is recorded with the inspection "
                        "notes and sales does not reopen it. Only then does logistics collect the goods and "
                        "accounting refund the money."
                    ),
                    "pl": (
                        "Uzasadniony zwrot to zwrot, który magazyn lub dział jakości uznał za zasadny po "
                        "obejrzeniu towaru. Podstawą jest wada, pomyłka w asortymencie, uszkodzenie w dostawie "
                        "lub umowne prawo klienta do zwrotu. Decyzja jest zapisywana z notatkami z kontroli i "
                        "sprzedaż jej nie podważa. Dopiero wtedy logistyka odbiera towar, a księgowość zwraca "
                        "pieniądze."
                    ),
                },
            }
        ],
        "requester": "sales",
        "performer": "warehouse",
        "initial": "inspection",
        "open_requires": ["customer", "order", "reason"],
        "priority": [{"when": {"priority": "high"}, "factor": 0.5}, {"when": {"customer_tier": "key"}, "factor": 0.75}],
        "target": "40h",
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "question": {"label": {"ru": "Вопрос", "en": "Question", "pl": "Pytanie"}},
            "answer": {"label": {"ru": "Ответ", "en": "Answer", "pl": "Odpowiedź"}},
            "inspection_notes": {
                "label": {"ru": "Заметки осмотра", "en": "Inspection notes", "pl": "Notatki z kontroli"}
            },
            "waybill": {"label": {"ru": "Накладная", "en": "Waybill", "pl": "List przewozowy"}},
            "document": {"kind": "link", "label": {"ru": "Ссылка на документ", "en": "Document link",
                                                   "pl": "Link do dokumentu"}},
        },
        "states": {
            "inspection": {
                "label": {"ru": "Проверка товара", "en": "Goods inspection", "pl": "Kontrola towaru"},
                "department": "warehouse",
                "role": "storekeeper",
                "target": "8h",
            },
            "awaiting_customer": {
                "label": {"ru": "Ждём клиента", "en": "Waiting for the customer", "pl": "Czekamy na klienta"},
                "department": "sales",
                "role": "manager",
                "paused": True,
            },
            "collection": {
                "label": {"ru": "Вывоз товара", "en": "Goods collection", "pl": "Odbiór towaru"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "16h",
                "target_rules": [{"when": {"customer_unreliable": True}, "target": "4h"}],
            },
            "refund": {
                "label": {"ru": "Возврат денег", "en": "Refund or credit note", "pl": "Zwrot pieniędzy"},
                "department": "accounting",
                "role": "accountant",
                "target": "8h",
            },
            "closed": {"label": {"ru": "Закрыт", "en": "Closed", "pl": "Zamknięty"}, "terminal": True},
            "rejected": {"label": {"ru": "Отклонён", "en": "Rejected", "pl": "Odrzucony"}, "terminal": True},
            "withdrawn": {"label": {"ru": "Отозван", "en": "Withdrawn", "pl": "Wycofany"}, "terminal": True},
        },
        "transitions": [
            {
                "trigger": "approve",
                "label": {"ru": "Одобрить", "en": "Approve", "pl": "Zatwierdź"},
                "source": "inspection",
                "dest": "collection",
                "allowed": ["warehouse", "quality"],
                "requires": ["inspection_notes"],
            },
            {
                "trigger": "reject",
                "label": {"ru": "Отклонить", "en": "Reject", "pl": "Odrzuć"},
                "source": "inspection",
                "dest": "rejected",
                "allowed": ["warehouse", "quality"],
                "requires": ["reason"],
            },
            {
                "trigger": "request_info",
                "label": {"ru": "Запросить у клиента", "en": "Ask the customer", "pl": "Zapytaj klienta"},
                "source": "inspection",
                "dest": "awaiting_customer",
                "allowed": ["warehouse", "quality"],
                "requires": ["question"],
            },
            {
                "trigger": "info_received",
                "label": {"ru": "Клиент ответил", "en": "Customer answered", "pl": "Klient odpowiedział"},
                "source": "awaiting_customer",
                "dest": "inspection",
                "allowed": ["sales"],
                "requires": ["answer"],
            },
            {
                "trigger": "collected",
                "label": {"ru": "Товар забран", "en": "Goods collected", "pl": "Towar odebrany"},
                "source": "collection",
                "dest": "refund",
                "allowed": ["logistics"],
                "requires": ["waybill"],
            },
            {
                "trigger": "refunded",
                "label": {"ru": "Деньги возвращены", "en": "Refunded", "pl": "Pieniądze zwrócone"},
                "source": "refund",
                "dest": "closed",
                "allowed": ["accounting"],
                "requires": ["document"],
            },
            {
                "trigger": "withdraw",
                "label": {"ru": "Отозвать", "en": "Withdraw", "pl": "Wycofaj"},
                "source": ["inspection", "awaiting_customer"],
                "dest": "withdrawn",
                "allowed": ["sales"],
                "requires": ["reason"],
            },
        ],
    }
)
