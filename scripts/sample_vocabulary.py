"""The words the sample dataset is made of: segments, places, hobbies, bio and review parts."""

SEGMENTS = {  # share, mean age, age spread, youngest, oldest, median income
    "student": (0.18, 22, 3, 18, 30, 9_000),
    "professional": (0.40, 40, 9, 24, 64, 52_000),
    "self-employed": (0.14, 45, 10, 25, 70, 47_000),
    "part-time": (0.08, 36, 11, 19, 66, 24_000),
    "retired": (0.20, 72, 6, 60, 92, 28_000),
}
COUNTRIES = {  # share, income level, cities
    "France": (0.24, 1.00, ["Lyon", "Paris", "Lille", "Nantes", "Bordeaux"]),
    "Germany": (0.22, 1.08, ["Berlin", "Munich", "Hamburg", "Cologne", "Leipzig"]),
    "Spain": (0.16, 0.78, ["Madrid", "Seville", "Valencia", "Bilbao"]),
    "Italy": (0.14, 0.85, ["Turin", "Milan", "Bologna", "Naples"]),
    "Netherlands": (0.12, 1.12, ["Utrecht", "Rotterdam", "Leiden", "Delft"]),
    "Portugal": (0.12, 0.70, ["Porto", "Lisbon", "Coimbra", "Braga"]),
}
BIOS = {
    "student": [
        "{field} student from {city} who loves {hobby}.",
        "Studying {field} in {city}, into {hobby} and {hobby2}.",
        "First year {field} student in {city}, always up for {hobby}.",
    ],
    "professional": [
        "{job} based in {city} who enjoys {hobby} on weekends.",
        "{job} from {city}, unwinds with {hobby} after work.",
        "Works as a {job_lower} in {city} and likes {hobby}.",
    ],
    "self-employed": [
        "Runs a small {business} in {city}; spare time goes to {hobby}.",
        "Freelance {job_lower} from {city} who relaxes with {hobby}.",
        "Owner of a {business} in {city}, keen on {hobby}.",
    ],
    "part-time": [
        "Works part-time as a {job_lower} in {city} and likes {hobby}.",
        "Part-time {job_lower} from {city}, loves {hobby} and {hobby2}.",
    ],
    "retired": [
        "Retired {former} from {city} who enjoys {hobby} and {hobby2}.",
        "Former {former} living in {city}, spends days on {hobby}.",
        "Retired in {city} after years as a {former}; loves {hobby}.",
    ],
}
WORDS = {
    "field": ["Law", "Physics", "History", "Design", "Biology", "Economics", "Music"],
    "job": ["Nurse", "Engineer", "Accountant", "Designer", "Teacher", "Developer", "Lawyer"],
    "business": ["bakery", "bike shop", "design studio", "bookshop", "cafe", "garden centre"],
    "former": ["teacher", "nurse", "engineer", "postman", "pharmacist", "farmer"],
}
HOBBIES = {
    "young": ["gaming", "football", "concerts", "climbing", "skating", "street food"],
    "adult": ["running", "cooking", "cycling", "hiking", "photography", "board games"],
    "older": ["gardening", "long walks", "bridge", "birdwatching", "reading", "painting"],
}
CHANNELS = ["app", "web", "store", "phone"]
STATUSES = ["delivered", "delayed", "returned", "cancelled"]
ITEMS = ["jacket", "lamp", "kettle", "backpack", "chair", "blender", "rug", "headset"]
REVIEWS = {  # status -> (what happened, what the customer adds)
    "delivered": (
        [
            "Great quality {item}.",
            "The {item} is exactly as described.",
            "Lovely {item}, very happy with it.",
            "Solid {item} for the price.",
            "My new {item} works perfectly.",
        ],
        [
            "Arrived on time.",
            "Would buy again.",
            "Fast delivery, well packed.",
            "Came {days} days early.",
            "Five stars from me.",
            "Already recommended it to friends.",
        ],
    ),
    "delayed": (
        [
            "Arrived {days} days late.",
            "Shipping took ages.",
            "Delayed twice without any notice.",
            "The {item} came a week late.",
        ],
        [
            "The {item} itself is great.",
            "Otherwise fine.",
            "Support was helpful though.",
            "Quality makes up for it.",
        ],
    ),
    "returned": (
        [
            "Returned the {item}.",
            "Sent the {item} back.",
            "Did not match the photos.",
            "The {item} broke after a week.",
        ],
        [
            "It was too small.",
            "Refund came in {days} days.",
            "Poor quality overall.",
            "Not worth the money.",
        ],
    ),
    "cancelled": (
        [
            "Cancelled the order.",
            "Changed my mind.",
            "Cancelled after {days} days of waiting.",
        ],
        [
            "Found a cheaper {item} elsewhere.",
            "No longer needed the {item}.",
            "Delivery would take weeks.",
        ],
    ),
}
