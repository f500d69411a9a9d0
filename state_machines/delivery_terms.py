"""Delivery terms change: goods are delayed in transit and the customer must be offered new
terms. Logistics gets a new arrival date from the carrier and proposes terms; sales agrees them
with the customer (the clock waits on the customer); logistics rebooks the delivery."""

from state_machines.schema import CaseTypeDef

DEFINITION = CaseTypeDef.model_validate(
    {
        "name": "delivery_terms_change",
        "label": {"ru": "Изменение условий поставки", "en": "Delivery terms change",
                  "pl": "Zmiana warunków dostawy"},
        "description": {
            "ru": "Товар задерживается в пути: логистика предлагает новые условия, продажи согласуют их с клиентом.",
            "en": "Goods are delayed in transit: logistics proposes new terms and sales agrees them with the "
            "customer.",
            "pl": "Towar opóźnia się w drodze: logistyka proponuje nowe warunki, a sprzedaż uzgadnia je z klientem.",
        },
        "definitions": [
            {
                "term": {"ru": "Задержка в пути", "en": "Delay in transit", "pl": "Opóźnienie w drodze"},
                "definition": {
                    "ru": "Задержка в пути — это ситуация, когда перевозчик или поставщик сообщил, что товар "
                    "не прибудет к обещанной клиенту дате. Логистика в течение своего срока узнаёт новую дату "
                    "прибытия и предлагает клиенту новые условия. Это может быть новая дата, частичная поставка "
                    "или замена товара. Время, пока клиент думает, не засчитывается ни одному отделу.",
                    "en": "A delay in transit is when the carrier or the supplier reports that goods will not "
                    "arrive by the date promised to the customer. Within its target, logistics finds out the new "
                    "arrival date and proposes new terms. They may be a new date, a partial delivery or a "
                    "substitute product. The time the customer takes to decide is charged to no department.",
                    "pl": "Opóźnienie w drodze to sytuacja, gdy przewoźnik lub dostawca zgłasza, że towar nie "
                    "dotrze w terminie obiecanym klientowi. W swoim terminie logistyka ustala nową datę "
                    "przybycia i proponuje nowe warunki. Może to być nowa data, dostawa częściowa lub towar "
                    "zastępczy. Czas namysłu klienta nie jest liczony żadnemu działowi.",
                },
            }
        ],
        "requester": "sales",
        "performer": "logistics",
        "initial": "assessment",
        "open_requires": ["customer", "order", "delay_reason"],
        "target": "16h",
        "escalation": {
            "levels": [
                {"after": "1h", "notify": ["department_head"]},
                {"after": "4h", "notify": ["head_manager"]},
                {"after": "8h", "notify": ["director"]},
            ],
            "repeat_every": "1h",
            "repeat_max": 2,
        },
        "fields": {
            "customer": {"label": {"ru": "Клиент", "en": "Customer", "pl": "Klient"}},
            "order": {"label": {"ru": "Заказ", "en": "Order", "pl": "Zamówienie"}},
            "delay_reason": {"label": {"ru": "Причина задержки", "en": "Delay reason", "pl": "Przyczyna opóźnienia"}},
            "new_eta": {"label": {"ru": "Новый срок", "en": "New delivery date", "pl": "Nowy termin"}},
            "proposal": {"label": {"ru": "Предложение клиенту", "en": "Proposal", "pl": "Propozycja"}},
            "eta": {"label": {"ru": "Срок доставки", "en": "Delivery date", "pl": "Termin dostawy"}},
            "agreed_terms": {"label": {
                "ru": "Согласованные условия", "en": "Agreed terms", "pl": "Uzgodnione warunki"
            }},
            "reason": {"label": {"ru": "Причина", "en": "Reason", "pl": "Powód"}},
            "waybill": {"label": {"ru": "Накладная", "en": "Waybill", "pl": "List przewozowy"}},
        },
        "states": {
            "assessment": {
                "label": {"ru": "Новая дата от перевозчика", "en": "New date from the carrier",
                          "pl": "Nowa data od przewoźnika"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "4h",
            },
            "customer_agreement": {
                "label": {"ru": "Согласование с клиентом", "en": "Agreeing with the customer",
                          "pl": "Uzgodnienie z klientem"},
                "department": "sales",
                "role": "manager",
                "paused": True,
            },
            "rebooking": {
                "label": {"ru": "Перебронирование доставки", "en": "Rebooking the delivery",
                          "pl": "Zmiana rezerwacji dostawy"},
                "department": "logistics",
                "role": "dispatcher",
                "target": "8h",
            },
            "changed": {"label": {"ru": "Условия изменены", "en": "Terms changed", "pl": "Warunki zmienione"},
                        "terminal": True},
            "on_time": {"label": {"ru": "Успеваем в срок", "en": "Arrives on time after all",
                                  "pl": "Zdążymy w terminie"}, "terminal": True},
            "cancelled": {"label": {"ru": "Клиент отказался", "en": "Customer cancelled", "pl": "Klient zrezygnował"},
                          "terminal": True},
        },
        "transitions": [
            {"trigger": "propose",
             "label": {"ru": "Предложить новый срок", "en": "Propose a new date", "pl": "Zaproponuj nowy termin"},
             "source": "assessment", "dest": "customer_agreement", "allowed": ["logistics"],
             "requires": ["new_eta", "proposal"]},
            {"trigger": "no_delay",
             "label": {"ru": "Задержки нет", "en": "No delay", "pl": "Brak opóźnienia"},
             "source": "assessment", "dest": "on_time", "allowed": ["logistics"],
             "requires": ["eta"]},
            {"trigger": "agreed",
             "label": {"ru": "Клиент согласен", "en": "Customer agreed", "pl": "Klient się zgodził"},
             "source": "customer_agreement", "dest": "rebooking", "allowed": ["sales"],
             "requires": ["agreed_terms"]},
            {"trigger": "customer_cancels",
             "label": {"ru": "Клиент отказался", "en": "Customer cancels", "pl": "Klient rezygnuje"},
             "source": "customer_agreement", "dest": "cancelled",
             "allowed": ["sales"], "requires": ["reason"]},
            {"trigger": "rebooked",
             "label": {"ru": "Доставка перенесена", "en": "Delivery rebooked", "pl": "Dostawa przełożona"},
             "source": "rebooking", "dest": "changed", "allowed": ["logistics"],
             "requires": ["waybill"]},
        ],
    }
)
