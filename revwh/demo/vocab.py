"""Fixed vocabularies of the demo company's world (names, domains, titles, texts)."""

from __future__ import annotations

FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com")

# partner / reseller companies: (account name, domain)
PARTNERS = (
    ("Channelbridge Partners", "channelbridge-partners.com"),
    ("Resellerworks Group", "resellerworks.io"),
    ("Alliancepath Consulting", "alliancepath.net"),
)

REGIONS = ("NA", "EMEA", "APAC")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGION_TZ = {
    "NA": (("America/New_York", 0.65), ("America/Los_Angeles", 0.35)),
    "EMEA": (("Europe/London", 0.6), ("Europe/Berlin", 0.4)),
    "APAC": (("Asia/Singapore", 0.7), ("Australia/Sydney", 0.3)),
}
TZ_NAMES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
            "Asia/Singapore", "Australia/Sydney")
REGION_COUNTRIES = {
    "NA": (("United States", ".com", 0.85), ("Canada", ".ca", 0.15)),
    "EMEA": (("United Kingdom", ".co.uk", 0.4), ("Germany", ".de", 0.3), ("France", ".fr", 0.15),
             ("Sweden", ".se", 0.15)),
    "APAC": (("Singapore", ".sg", 0.45), ("Australia", ".com.au", 0.4), ("Japan", ".jp", 0.15)),
}

FIRST_NAMES = {
    "NA": ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda",
           "William", "Elizabeth", "Daniel", "Susan", "Matthew", "Jessica", "Anthony", "Sarah",
           "Mark", "Karen", "Steven", "Nancy", "Andrew", "Emily", "Joshua", "Megan", "Kevin",
           "Rachel", "Brian", "Laura", "Ryan", "Nicole", "Jacob", "Olivia", "Tyler", "Hannah",
           "Carlos", "María", "José", "Sofía", "Zoë", "Renée", "Noah", "Grace"),
    "EMEA": ("Oliver", "Amelia", "Harry", "Isla", "Thomas", "Charlotte", "Lukas", "Anna",
             "Jürgen", "Jörg", "Sören", "Käthe", "Chloé", "Léa", "Hélène", "François", "Émile",
             "Björn", "Åsa", "Lars", "Ingrid", "Mats", "Sofie", "Felix", "Marie", "Paul",
             "Łukasz", "Zoë", "Agnès", "Niamh", "Siobhán", "Giulia", "Marco", "Elena"),
    "APAC": ("Wei", "Li", "Mei", "Jun", "Hiroshi", "Yuki", "Haruto", "Sakura", "Priya",
             "Arjun", "Ananya", "Rahul", "Siti", "Ahmad", "Nurul", "Jack", "Chloe", "Liam",
             "Ella", "Minh", "Thảo", "Ji-woo", "Seo-yeon", "Kenji", "Aiko", "Ravi"),
}
LAST_NAMES = {
    "NA": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas",
           "Taylor", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
           "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green",
           "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "O'Brien", "Peña"),
    "EMEA": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
             "Hoffmann", "Schäfer", "Koch", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard",
             "Johansson", "Andersson", "Lindqvist", "Nyström", "Åberg", "Evans", "Hughes",
             "Wright", "Roberts", "Walsh", "Kowalski", "Nowak", "Rossi", "Bianchi", "Øster"),
    "APAC": ("Tan", "Lim", "Lee", "Ng", "Wong", "Chen", "Wang", "Zhang", "Sato", "Suzuki",
             "Takahashi", "Tanaka", "Sharma", "Patel", "Gupta", "Singh", "Nguyen", "Tran",
             "Kim", "Park", "Wilson", "Taylor", "Brown", "Nakamura", "Rahman", "Lê"),
}

ACCOUNT_PREFIX = ("Blue", "North", "Iron", "Silver", "Bright", "Cedar", "Summit", "Harbor",
                  "Granite", "Maple", "Falcon", "Orbit", "Pioneer", "Quantum", "River", "Solar",
                  "Stone", "Tidal", "Vertex", "Willow", "Amber", "Apex", "Atlas", "Beacon",
                  "Cobalt", "Crescent", "Delta", "Ember", "Evergreen", "Fjord", "Helix",
                  "Horizon", "Juniper", "Keystone", "Lumen", "Meridian", "Nimbus", "Oak",
                  "Pinnacle", "Redwood", "Sable", "Sierra", "Terra", "Union", "Vista", "Zenith")
ACCOUNT_SUFFIX = ("field", "stone", "wave", "line", "point", "gate", "ridge", "bridge", "works",
                  "path", "mark", "view", "crest", "port", "light", "forge", "wood", "haven")
EMEA_PREFIX = ("Nordström", "Müller", "Fjäll", "Équinoxe", "Øresund", "Königs", "Blåvik",
               "Sörensen", "Lumière", "Grünwald", "Château", "Weiß")
ACCOUNT_KIND = (
    ("Logistics", "Transportation"), ("Health", "Healthcare"), ("Analytics", "Technology"),
    ("Foods", "Food & Beverage"), ("Energy", "Energy"), ("Capital", "Financial Services"),
    ("Systems", "Technology"), ("Robotics", "Manufacturing"), ("Media", "Media"),
    ("Retail", "Retail"), ("Software", "Technology"), ("Insurance", "Insurance"),
    ("Labs", "Biotechnology"), ("Manufacturing", "Manufacturing"), ("Telecom", "Telecommunications"),
)
LEGAL_SUFFIX = {"NA": ("Inc.", "LLC", "Corp."), "EMEA": ("Ltd", "GmbH", "AG", "SAS", "AB"),
                "APAC": ("Pte Ltd", "Pty Ltd", "K.K.")}

# personas of buyer contacts: (persona, contact-role, titles)
PERSONAS = (
    ("economic_buyer", "Economic Buyer", ("CFO", "VP Finance", "Chief Revenue Officer", "COO")),
    ("champion", "Decision Maker", ("Director of Sales Operations", "Head of RevOps",
                                    "VP Sales Operations")),
    ("technical", "Technical Buyer", ("Data Engineering Lead", "IT Director",
                                      "Head of Business Systems")),
    ("evaluator", "Evaluator", ("Sales Manager", "Revenue Analyst", "Senior Account Executive")),
    ("procurement", "Influencer", ("Procurement Manager", "Legal Counsel")),
    ("user", "Business User", ("Account Executive", "Sales Development Rep", "Customer Success Manager")),
)

LEAD_SOURCES = ("Inbound", "Outbound", "Partner", "Referral", "Event")
PAIN_CATEGORIES = ("Forecast accuracy", "Pipeline visibility", "Manual reporting",
                   "Revenue leakage", "Rep productivity")
IMPACTS = ("Reduce forecast error by half", "Save 10 hours per manager per week",
           "Recover lost expansion revenue", "Shorten sales cycle by 20%",
           "Board-ready numbers without spreadsheets")
CRITICAL_EVENTS = ("Board meeting", "Fiscal year planning", "Incumbent contract renewal",
                   "New CRO start", "Funding round due diligence", "Regulatory reporting deadline")
DECISION_CRITERIA = ("Time to value; CRM integration", "Security review; total cost",
                     "Forecast accuracy in pilot", "Ease of use for managers",
                     "Data warehouse compatibility")
WON_REASONS = ("Business case", "Product fit", "Relationship", "Time to value")
LOST_REASONS = ("No decision", "Lost to competitor", "Price", "Timing", "Missing capability")
CHURN_REASONS = ("Churn - budget cut", "Churn - switched vendor", "Churn - low adoption")
PRODUCTS = ("Revenue Cloud", "Forecasting", "Pipeline Analytics", "Platform")

EMAIL_SUBJECTS_DEAL = (
    "Intro: {account} x Northpeak", "Follow-up from our call", "Next steps for {account}",
    "Requirements list", "Security questionnaire", "Proposal for {account}",
    "Pricing question", "Pilot success criteria", "Reference call", "Contract redlines",
    "Mutual action plan", "Demo recording and notes", "Stakeholder map", "Budget approval",
    "Rollout timeline", "Questions about the integration", "Renewal terms for {account}",
    "Expansion: additional seats", "Agenda for next week",
)
EMAIL_SUBJECTS_INTERNAL = (
    "Pipeline review", "Forecast call notes", "Deal desk request", "QBR prep",
    "Team update", "Territory planning", "Commission question", "Onboarding checklist",
    "Enablement session", "Win story", "Hiring update",
)
EMAIL_SUBJECTS_ACCOUNT = ("Monthly check-in", "Usage report", "Support ticket follow-up",
                          "Feature request", "Invoice question", "New admin user")
EMAIL_SUBJECTS_COLD = ("Quick question", "Idea for {company}", "Forecast accuracy at {company}",
                       "15 minutes next week?")
EMAIL_SUBJECTS_INBOUND = ("Pricing question", "Demo request", "Question about Northpeak")
EMAIL_SUBJECTS_PARTNER = ("Joint account plan", "Referral: new opportunity", "Partner pipeline sync")

MEETING_DEAL = ("Discovery call", "Product demo", "Requirements workshop", "Technical deep dive",
                "Pilot check-in", "Proposal review", "Executive alignment", "Commercial review")
BODY_LINES = (
    "Thanks for the time today.", "Please find the notes below.", "Could we find 30 minutes next week?",
    "Looping in a colleague who owns this on our side.", "Happy to walk you through it.",
    "Let me know if anything is unclear.", "We reviewed it internally and have a few questions.",
    "Attached is the updated version.", "Sounds good, talk soon.", "Following up on my last note.",
)
