"""Closing documents: a deal cannot close until accounting issues its documents (invoice, UPD,
reconciliation act). Sales asks, accounting prepares and the chief accountant signs; missing
customer details send the case back to sales, and the clock waits while the customer answers."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "closing_documents",
        "label": {"ru": "Закрывающие документы", "en": "Closing documents", "pl": "Dokumenty zamykające"},
        "description": {
            "ru": "Бухгалтерия готовит и подписывает документы, без которых сделку нельзя закрыть.",
            "en": "Accounting prepares and signs the documents a deal needs before it can close.",
            "pl": "Księgowość przygotowuje i podpisuje dokumenty potrzebne do zamknięcia transakcji.",
        },
        "definitions": [
            {
                "term": {"ru": "Закрывающие документы", "en": "Closing documents", "pl": "Dokumenty zamykające"},
                "definition": {
                    "ru": "Закрывающие документы — это счёт-фактура, УПД, акт или акт сверки, без которых "
                    "сделка не считается завершённой. Их готовит бухгалтерия по данным сделки, подписывает "
                    "главный бухгалтер. Менеджер по продажам указывает в запросе, какие документы нужны "
                    "и к какой сделке. Пока у клиента запрашиваются реквизиты, срок бухгалтерии не идёт.",
                    "en": "Closing documents are the invoice, the universal transfer document, the act or the "
                    "reconciliation statement without which a deal is not complete. Accounting prepares them "
                    "from the deal's data and the chief accountant signs them. The sales manager names in the "
                    "request which documents are needed and for which deal. While the customer is asked for "
                    "missing details, accounting's clock does not run.",
                    "pl": "Dokumenty zamykające to faktura, uniwersalny dokument przekazania, protokół lub "
                    "uzgodnienie sald, bez których transakcja nie jest zakończona. Księgowość przygotowuje je "
                    "na podstawie danych transakcji, a główna księgowa je podpisuje. Handlowiec wskazuje we "
                    "wniosku, jakie dokumenty są potrzebne i do której transakcji. Gdy klient jest proszony "
                    "o brakujące dane, zegar księgowości stoi.",
                },
            }
        ],
        "requester": "sales",
        "performer": "accounting",
        "initial": "preparing",
        "open_requires": ["customer", "deal", "documents"],
        "target": "16h",
        "escalation": {
            "levels": [
                {"after": "2h", "notify": ["department_head"]},
                {"after": "8h", "notify": ["head_manager"]},
                {"after": "16h", "notify": ["director"]},
            ],
        },
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "deal": {"label": {"ru": "Сделка", "en": "Deal", "pl": "Transakcja"}},
            "documents": {"label": {"ru": "Документы", "en": "Documents", "pl": "Dokumenty"}},
            "documents_link": {"label": {
                "ru": "Ссылка на документы", "en": "Documents link", "pl": "Link do dokumentów"
            }},
            "question": {"label": {"ru": "Вопрос", "en": "Question", "pl": "Pytanie"}},
            "answer": {"label": {"ru": "Ответ", "en": "Answer", "pl": "Odpowiedź"}},
            "document_numbers": {"label": {
                "ru": "Номера документов", "en": "Document numbers", "pl": "Numery dokumentów"
            }},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
        },
        "states": {
            "preparing": {
                "label": {"ru": "Подготовка документов", "en": "Preparing the documents", "pl": "Przygotowanie"},
                "department": "accounting",
                "role": "accountant",
                "target": "8h",
            },
            "awaiting_details": {
                "label": {"ru": "Ждём реквизиты клиента", "en": "Waiting for customer details",
                          "pl": "Czekamy na dane klienta"},
                "department": "sales",
                "role": "manager",
                "paused": True,
            },
            "signing": {
                "label": {"ru": "Подпись главного бухгалтера", "en": "Chief accountant's signature",
                          "pl": "Podpis głównej księgowej"},
                "department": "accounting",
                "role": "head",
                "target": "4h",
            },
            "issued": {"label": {"ru": "Документы выданы", "en": "Documents issued", "pl": "Dokumenty wydane"},
                       "terminal": True},
            "refused": {"label": {"ru": "Отказано", "en": "Refused", "pl": "Odmowa"}, "terminal": True},
            "withdrawn": {"label": {"ru": "Отозван", "en": "Withdrawn", "pl": "Wycofany"}, "terminal": True},
        },
        "transitions": [
            {"trigger": "prepared",
             "label": {"ru": "Документы подготовлены", "en": "Documents prepared", "pl": "Dokumenty przygotowane"},
             "source": "preparing", "dest": "signing", "allowed": ["accounting"],
             "requires": ["documents_link"]},
            {"trigger": "request_details",
             "label": {"ru": "Запросить данные", "en": "Ask for details", "pl": "Poproś o dane"},
             "source": "preparing", "dest": "awaiting_details",
             "allowed": ["accounting"], "requires": ["question"]},
            {"trigger": "details_received",
             "label": {"ru": "Данные получены", "en": "Details received", "pl": "Dane otrzymane"},
             "source": "awaiting_details", "dest": "preparing", "allowed": ["sales"],
             "requires": ["answer"]},
            {"trigger": "signed",
             "label": {"ru": "Подписано", "en": "Signed", "pl": "Podpisane"},
             "source": "signing", "dest": "issued", "allowed": ["accounting/head"],
             "requires": ["document_numbers"]},
            {"trigger": "return_for_fix",
             "label": {"ru": "Вернуть на исправление", "en": "Return for a fix", "pl": "Zwróć do poprawy"},
             "source": "signing", "dest": "preparing", "allowed": ["accounting/head"],
             "requires": ["reason"]},
            {"trigger": "refuse",
             "label": {"ru": "Отказать", "en": "Refuse", "pl": "Odmów"},
             "source": ["preparing", "signing"], "dest": "refused", "allowed": ["accounting"],
             "requires": ["reason"]},
            {"trigger": "withdraw",
             "label": {"ru": "Отозвать", "en": "Withdraw", "pl": "Wycofaj"},
             "source": ["preparing", "awaiting_details"], "dest": "withdrawn",
             "allowed": ["sales"], "requires": ["reason"]},
        ],
    }
)
