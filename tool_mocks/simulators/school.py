"""Simulated Colegio Santa Ana school portal: one student's discipline records, messages and
evaluations (in Spanish, Chilean 1.0-7.0 grading scale).

The whole school year of the student is drawn once from a generator seeded by (student,
school year), so the three endpoints tell one consistent story: a reminder message announces
an evaluation that appears in the evaluations list, and a parents' summons follows a negative
discipline note by the same teacher. Only events up to ``ctx.today`` are visible (evaluations
of the next three weeks appear as pending, without a grade).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ._base import Reply, SimContext, ok, simulator

__all__ = (
    "disciplina",
    "evaluaciones",
    "mensajes",
    "nota_promedio",
    "school_year_start",
)

_STUDENT_ID = 1
_FIRST_NAMES = (
    "Sofía",
    "Martina",
    "Florencia",
    "Isidora",
    "Benjamín",
    "Vicente",
    "Matías",
    "Agustín",
    "Josefa",
    "Tomás",
)
_SURNAMES = (
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Fuentes",
    "Araya",
    "Castillo",
)
_TEACHER_NAMES = (
    "Carolina",
    "Patricio",
    "Marcela",
    "Rodrigo",
    "Claudia",
    "Andrés",
    "Verónica",
    "Cristián",
    "Paula",
    "Gonzalo",
    "Lorena",
    "Felipe",
)

# subject -> evaluation topics (in teaching order)
_SUBJECTS: dict[str, tuple[str, ...]] = {
    "Lenguaje y Comunicación": (
        "Comprensión lectora: textos narrativos",
        "Lectura domiciliaria",
        "Género lírico",
        "Texto argumentativo",
        "Comprensión lectora: textos informativos",
        "Lectura domiciliaria",
    ),
    "Matemática": (
        "Números enteros",
        "Fracciones y decimales",
        "Porcentajes",
        "Ecuaciones de primer grado",
        "Áreas y perímetros",
        "Estadística y probabilidad",
    ),
    "Historia, Geografía y Ciencias Sociales": (
        "Civilizaciones de Mesopotamia y Egipto",
        "Grecia clásica",
        "Roma",
        "La Edad Media",
        "Geografía de Chile",
        "Pueblos originarios",
    ),
    "Ciencias Naturales": (
        "La célula",
        "Fuerzas y movimiento",
        "Materia y sus cambios",
        "Sistema reproductor y pubertad",
        "Capas de la Tierra",
        "Microorganismos",
    ),
    "Inglés": (
        "Present simple",
        "Vocabulary: daily routines",
        "Past simple",
        "Reading comprehension",
        "Oral presentation",
        "Future with going to",
    ),
    "Educación Física y Salud": (
        "Test de resistencia",
        "Voleibol: fundamentos",
        "Danza folclórica",
        "Atletismo",
    ),
    "Artes Visuales": ("Paisaje con témpera", "Escultura en greda", "Collage", "Afiche"),
}
_EVAL_TYPES = ("Prueba", "Control", "Trabajo de investigación", "Disertación", "Guía evaluada")

_POSITIVE_NOTES = (
    "Ayuda a un compañero que no entendía la materia.",
    "Participa activamente en clases con aportes de calidad.",
    "Presenta su trabajo con gran responsabilidad y creatividad.",
    "Colabora en el orden de la sala al final de la jornada.",
)
_NEGATIVE_NOTES = (
    ("No trae materiales solicitados para la clase.", "leve"),
    ("Usa el celular durante la clase tras ser advertido.", "leve"),
    ("Conversa reiteradamente e interrumpe la clase.", "leve"),
    ("No entrega la tarea en la fecha acordada.", "leve"),
    ("Falta el respeto a un compañero durante el recreo.", "grave"),
)


def school_year_start(today: dt.date) -> dt.date:
    """First Monday of March of the school year that ``today`` belongs to."""
    year = today.year if today.month >= 3 else today.year - 1
    first = dt.date(year, 3, 1)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7)


def _weekday(day: dt.date) -> dt.date:
    """The school day on or after ``day`` (weekends move to Monday)."""
    return day + dt.timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


def nota_promedio(notas: list[float]) -> float:
    """Average grade rounded to one decimal, half up, as Chilean schools round."""
    mean = Decimal(sum(Decimal(str(n)) for n in notas)) / len(notas)
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _year(ctx: SimContext) -> dict[str, Any]:
    """The student's whole school year (before filtering by ``ctx.today``)."""
    start = school_year_start(ctx.today)
    rng = random.Random(ctx.entity_rng("colegiosantaana", _STUDENT_ID, start.year).getrandbits(64))
    student = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)} {rng.choice(_SURNAMES)}"
    teacher_names = rng.sample(_TEACHER_NAMES, len(_SUBJECTS))
    teachers = {
        subject: f"{first} {rng.choice(_SURNAMES)}"
        for subject, first in zip(_SUBJECTS, teacher_names, strict=True)
    }
    head_subject = rng.choice(list(_SUBJECTS)[:5])
    profile = {
        "id": _STUDENT_ID,
        "nombre": student,
        "curso": f"{rng.choice(('6°', '7°', '8°'))} Básico {rng.choice('AB')}",
        "profesor_jefe": teachers[head_subject],
        "anio_escolar": start.year,
    }

    evaluations: list[dict[str, Any]] = []
    for subject, topics in _SUBJECTS.items():
        ability = rng.uniform(4.6, 6.4)
        gap = 240 // len(topics)
        for k, topic in enumerate(topics):
            day = _weekday(start + dt.timedelta(days=14 + k * gap + rng.randint(-4, 4)))
            evaluations.append(
                {
                    "asignatura": subject,
                    "tipo": rng.choice(_EVAL_TYPES),
                    "descripcion": topic,
                    "fecha": day,
                    "ponderacion": rng.choice((20, 25, 30)),
                    "profesor": teachers[subject],
                    "nota": round(min(7.0, max(2.0, rng.gauss(ability, 0.7))), 1),
                }
            )
    evaluations.sort(key=lambda e: (e["fecha"], e["asignatura"]))
    for i, e in enumerate(evaluations, 1):
        e["id"] = i

    discipline: list[dict[str, Any]] = []
    day = start + dt.timedelta(days=rng.randint(5, 15))
    while day < start + dt.timedelta(days=270):
        subject = rng.choice(list(_SUBJECTS))
        roll = rng.random()
        record: dict[str, Any] = {
            "fecha": _weekday(day),
            "asignatura": subject,
            "profesor": teachers[subject],
        }
        if roll < 0.35:
            record.update(
                tipo="Anotación positiva", descripcion=rng.choice(_POSITIVE_NOTES), gravedad=None
            )
        elif roll < 0.7:
            text, level = rng.choice(_NEGATIVE_NOTES)
            record.update(tipo="Anotación negativa", descripcion=text, gravedad=level)
        elif roll < 0.9:
            record.update(
                tipo="Atraso",
                descripcion=f"Llega {rng.choice((5, 10, 15, 20))} minutos tarde al inicio de la jornada.",
                asignatura=None,
                profesor="Inspectoría General",
                gravedad="leve",
            )
        else:
            record.update(
                tipo="Inasistencia justificada",
                descripcion="Ausente por control médico; el apoderado presenta certificado.",
                asignatura=None,
                profesor="Inspectoría General",
                gravedad=None,
            )
        discipline.append(record)
        day += dt.timedelta(days=rng.randint(9, 24))
    for i, d in enumerate(discipline, 1):
        d["id"] = i

    messages: list[dict[str, Any]] = []
    head = profile["profesor_jefe"]
    for e in evaluations:
        if e["tipo"] in ("Prueba", "Disertación") and rng.random() < 0.6:
            messages.append(
                {
                    "fecha": dt.datetime.combine(
                        e["fecha"] - dt.timedelta(days=rng.randint(3, 7)),
                        dt.time(rng.randint(8, 17), rng.randint(0, 59)),
                    ),
                    "remitente": {"nombre": e["profesor"], "rol": "Profesor de asignatura"},
                    "asunto": f"Recordatorio: {e['tipo'].lower()} de {e['asignatura']}",
                    "contenido": f"Estimado apoderado: le recordamos que el {e['fecha'].strftime('%d/%m/%Y')} "
                    f"se realizará la {e['tipo'].lower()} de {e['asignatura']} sobre «{e['descripcion']}». "
                    "Se adjunta el temario.",
                    "tipo": "Recordatorio",
                    "adjuntos": [
                        {
                            "nombre": "Temario",
                            "url": f"https://colegiosantaana.example.cl/docs/temario-{e['id']}.pdf",
                        }
                    ],
                }
            )
    for d in discipline:
        if d["tipo"] == "Anotación negativa" and (d["gravedad"] == "grave" or rng.random() < 0.3):
            when = d["fecha"] + dt.timedelta(days=rng.randint(1, 3))
            messages.append(
                {
                    "fecha": dt.datetime.combine(
                        when, dt.time(rng.randint(8, 16), rng.randint(0, 59))
                    ),
                    "remitente": {
                        "nombre": d["profesor"],
                        "rol": "Profesor de asignatura"
                        if d["profesor"] != head
                        else "Profesor jefe",
                    },
                    "asunto": "Citación de apoderado",
                    "contenido": f"Estimado apoderado: solicito entrevista por la anotación del "
                    f"{d['fecha'].strftime('%d/%m/%Y')} ({d['descripcion']}). Favor confirmar asistencia.",
                    "tipo": "Citación",
                    "adjuntos": [],
                    "anotacion_id": d["id"],
                }
            )
    for month, subject_line, text in (
        (
            3,
            "Bienvenida al año escolar",
            "Damos la bienvenida a las familias al nuevo año escolar. Se adjunta el calendario del primer semestre.",
        ),
        (
            4,
            "Reunión de apoderados",
            "Se cita a reunión de apoderados el próximo miércoles a las 19:00 en la sala del curso.",
        ),
        (
            5,
            "Día del Alumno",
            "El día del alumno habrá jornada recreativa; los estudiantes pueden asistir con ropa de color.",
        ),
        (
            7,
            "Vacaciones de invierno",
            "Recordamos que las vacaciones de invierno comienzan el lunes. Se adjunta el documento informativo.",
        ),
        (
            9,
            "Fiestas Patrias",
            "Invitamos a la muestra folclórica de Fiestas Patrias en el gimnasio del colegio.",
        ),
        (
            11,
            "Cierre del año escolar",
            "Se informa el calendario de cierre del año y entrega de informes de notas.",
        ),
    ):
        sent = dt.datetime.combine(
            _weekday(dt.date(start.year, month, rng.randint(2, 20))), dt.time(9, rng.randint(0, 59))
        )
        messages.append(
            {
                "fecha": sent,
                "remitente": {
                    "nombre": head if month in (4, 11) else "Dirección Colegio Santa Ana",
                    "rol": "Profesor jefe" if month in (4, 11) else "Dirección",
                },
                "asunto": subject_line,
                "contenido": text,
                "tipo": "Comunicado",
                "adjuntos": [
                    {
                        "nombre": "Documento",
                        "url": f"https://colegiosantaana.example.cl/docs/comunicado-{start.year}-{month:02d}.pdf",
                    }
                ],
            }
        )
    messages.sort(key=lambda m: m["fecha"])
    for i, m in enumerate(messages, 1):
        m["id"] = i
        m["leido"] = rng.random() < 0.8
    return {
        "profile": profile,
        "evaluations": evaluations,
        "discipline": discipline,
        "messages": messages,
    }


def _iso(value: dt.date | dt.datetime) -> str:
    return (
        value.isoformat(timespec="minutes") if isinstance(value, dt.datetime) else value.isoformat()
    )


@simulator("colegiosantaana%%Disciplina-1")
def disciplina(args: dict[str, Any], ctx: SimContext) -> Reply:
    year = _year(ctx)
    records = [
        dict(d, fecha=_iso(d["fecha"])) for d in year["discipline"] if d["fecha"] <= ctx.today
    ]
    records.reverse()  # newest first, like the portal
    summary: dict[str, int] = {}
    for r in records:
        summary[r["tipo"]] = summary.get(r["tipo"], 0) + 1
    return ok({"alumno": year["profile"], "resumen": summary, "registros": records})


@simulator("colegiosantaana%%Mensajes-1")
def mensajes(args: dict[str, Any], ctx: SimContext) -> Reply:
    year = _year(ctx)
    now = dt.datetime.combine(ctx.today, dt.time(23, 59))
    visible = [dict(m, fecha=_iso(m["fecha"])) for m in year["messages"] if m["fecha"] <= now]
    visible.reverse()
    return ok(
        {
            "alumno": year["profile"],
            "total": len(visible),
            "no_leidos": sum(not m["leido"] for m in visible),
            "mensajes": visible,
        }
    )


@simulator("colegiosantaana%%Evaluaciones-1")
def evaluaciones(args: dict[str, Any], ctx: SimContext) -> Reply:
    year = _year(ctx)
    horizon = ctx.today + dt.timedelta(days=21)
    shown = []
    for e in year["evaluations"]:
        if e["fecha"] > horizon:
            continue
        graded = e["fecha"] <= ctx.today
        shown.append(
            dict(
                e,
                fecha=_iso(e["fecha"]),
                nota=e["nota"] if graded else None,
                estado="calificada" if graded else "pendiente",
            )
        )
    averages = {}
    for subject in _SUBJECTS:
        notas = [e["nota"] for e in shown if e["asignatura"] == subject and e["nota"] is not None]
        if notas:
            averages[subject] = nota_promedio(notas)
    return ok(
        {
            "alumno": year["profile"],
            "escala": "1.0 a 7.0 (aprobación con 4.0)",
            "promedios": averages,
            "promedio_general": nota_promedio(list(averages.values())) if averages else None,
            "evaluaciones": shown,
        }
    )
