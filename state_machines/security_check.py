"""Security check: before a deal with an unreliable customer (new, large, with debts or odd
details), sales asks the security service to check it. Security clears the customer, allows
deals on prepayment only, or (its head) refuses; it may ask sales for the customer's documents,
and the clock waits for them."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "security_check",
        "label": {"ru": "Проверка службой безопасности", "en": "Security check", "pl": "Kontrola bezpieczeństwa"},
        "description": {
            "ru": "Служба безопасности проверяет ненадёжного клиента до сделки.",
            "en": "The security service checks an unreliable customer before a deal.",
            "pl": "Służba bezpieczeństwa sprawdza niepewnego klienta przed transakcją.",
        },
        "definitions": [
            {
                "term": {"ru": "Ненадёжный клиент", "en": "Unreliable customer", "pl": "Niepewny klient"},
                "definition": {
                    "ru": "Ненадёжный клиент — это клиент, сделка с которым несёт риск неоплаты или "
                    "мошенничества. Признаки: компания зарегистрирована недавно, есть долги или суды, реквизиты "
                    "не совпадают с данными реестра, сумма сделки необычно велика. Менеджер по продажам "
                    "обязан открыть проверку до отгрузки без предоплаты. Решение службы безопасности "
                    "обязательно для отдела продаж.",
                    "en": "An unreliable customer is one with whom a deal carries a risk of non-payment or "
                    "fraud. The signs are a recently registered company, debts or lawsuits, details that do not "
                    "match the public register, or an unusually large deal. The sales manager must open a check "
                    "before shipping without prepayment. The security service's decision binds sales.",
                    "pl": "Niepewny klient to taki, z którym transakcja niesie ryzyko braku zapłaty lub "
                    "oszustwa. Oznaki to niedawno zarejestrowana firma, długi lub procesy, dane niezgodne z "
                    "rejestrem albo nietypowo duża transakcja. Handlowiec musi otworzyć kontrolę przed wysyłką "
                    "bez przedpłaty. Decyzja służby bezpieczeństwa wiąże dział sprzedaży.",
                },
            }
        ],
        "requester": "sales",
        "performer": "security",
        "initial": "check",
        "open_requires": ["customer", "tax_id", "reason"],
        "target": "24h",
        "escalation": {
            "levels": [
                {"after": "4h", "notify": ["department_head"]},
                {"after": "8h", "notify": ["director"]},
            ],
        },
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "tax_id": {"label": {"ru": "ИНН", "en": "Tax ID", "pl": "NIP"}},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "findings": {"label": {"ru": "Результаты проверки", "en": "Findings", "pl": "Wyniki weryfikacji"}},
            "documents": {"label": {"ru": "Документы", "en": "Documents", "pl": "Dokumenty"}},
            "link": {"label": {"ru": "Ссылка", "en": "Link", "pl": "Link"}},
        },
        "states": {
            "check": {
                "label": {"ru": "Проверка клиента", "en": "Checking the customer", "pl": "Sprawdzanie klienta"},
                "department": "security",
                "role": "officer",
                "target": "16h",
                "target_rules": [{"when": {"deal_blocked": True}, "target": "4h"}],
            },
            "awaiting_documents": {
                "label": {"ru": "Ждём документы клиента", "en": "Waiting for the customer's documents",
                          "pl": "Czekamy na dokumenty klienta"},
                "department": "sales",
                "role": "manager",
                "paused": True,
            },
            "cleared": {"label": {"ru": "Клиент проверен", "en": "Customer cleared", "pl": "Klient zweryfikowany"},
                        "terminal": True},
            "prepayment_only": {"label": {"ru": "Только по предоплате", "en": "Prepayment only",
                                          "pl": "Tylko przedpłata"}, "terminal": True},
            "refused": {"label": {"ru": "Сделки запрещены", "en": "Deals refused", "pl": "Transakcje zabronione"},
                        "terminal": True},
        },
        "transitions": [
            {"trigger": "clear",
             "label": {"ru": "Проверка пройдена", "en": "Clear", "pl": "Zweryfikowano pozytywnie"},
             "source": "check", "dest": "cleared", "allowed": ["security"],
             "requires": ["findings"]},
            {"trigger": "restrict",
             "label": {"ru": "Только предоплата", "en": "Prepayment only", "pl": "Tylko przedpłata"},
             "source": "check", "dest": "prepayment_only", "allowed": ["security"],
             "requires": ["findings"]},
            {"trigger": "refuse",
             "label": {"ru": "Отказать", "en": "Refuse", "pl": "Odmów"},
             "source": "check", "dest": "refused", "allowed": ["security/head"],
             "requires": ["findings"]},
            {"trigger": "request_documents",
             "label": {"ru": "Запросить документы", "en": "Request documents", "pl": "Poproś o dokumenty"},
             "source": "check", "dest": "awaiting_documents",
             "allowed": ["security"], "requires": ["documents"]},
            {"trigger": "documents_received",
             "label": {"ru": "Документы получены", "en": "Documents received", "pl": "Dokumenty otrzymane"},
             "source": "awaiting_documents", "dest": "check", "allowed": ["sales"],
             "requires": ["link"]},
        ],
    }
)
