"""Embedded reference data for the knowledge simulators, written for this project.

Encyclopedia summaries, disambiguation lists, a shelf of well-known arXiv papers, web-search
topic notes and a small fact base (countries, people, chemistry, constants). Facts are real;
the wording is our own.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = (
    "CHEMICALS",
    "CONSTANTS",
    "COUNTRY_FACTS",
    "DISAMBIGUATION",
    "ELEMENTS",
    "ENTITIES",
    "PAPERS",
    "PEOPLE",
    "WEB_TOPICS",
    "Entity",
    "Paper",
)


class Entity(NamedTuple):
    title: str
    aliases: tuple[str, ...]
    summary: str  # a few sentences, the way an encyclopedia article opens


ENTITIES: tuple[Entity, ...] = (
    Entity("Leonardo da Vinci", ("Leonardo",),
           "Leonardo da Vinci (15 April 1452 - 2 May 1519) was an Italian polymath of the High "
           "Renaissance, active as a painter, draughtsman, engineer, scientist and architect. "
           "He was born in Vinci, near Florence, and trained in the workshop of Andrea del "
           "Verrocchio. His best-known paintings include the Mona Lisa and The Last Supper. "
           "His notebooks hold studies of anatomy, flight, optics and hydraulics. He spent his "
           "last years in France at the invitation of King Francis I and died at Amboise."),
    Entity("Marie Curie", ("Maria Sklodowska", "Marie Sklodowska Curie", "Madame Curie"),
           "Marie Curie (7 November 1867 - 4 July 1934) was a Polish-born French physicist and "
           "chemist who pioneered research on radioactivity. With Pierre Curie she discovered "
           "the elements polonium and radium. She was the first woman to win a Nobel Prize, and "
           "remains the only person awarded Nobel Prizes in two different sciences: physics in "
           "1903 and chemistry in 1911. She died of aplastic anaemia, likely caused by long "
           "exposure to radiation."),
    Entity("Albert Einstein", ("Einstein",),
           "Albert Einstein (14 March 1879 - 18 April 1955) was a German-born theoretical "
           "physicist. He developed the special and general theories of relativity and "
           "contributed to quantum theory. His mass-energy equivalence formula E = mc2 is among "
           "the best-known equations in physics. He received the 1921 Nobel Prize in Physics "
           "for his explanation of the photoelectric effect."),
    Entity("Isaac Newton", ("Newton", "Sir Isaac Newton"),
           "Sir Isaac Newton (1643 - 1727) was an English mathematician, physicist and "
           "astronomer. His Principia of 1687 set out the laws of motion and universal "
           "gravitation. He built the first practical reflecting telescope and developed a "
           "theory of colour from experiments with prisms. He shares credit with Gottfried "
           "Wilhelm Leibniz for the development of calculus."),
    Entity("Charles Darwin", ("Darwin",),
           "Charles Robert Darwin (12 February 1809 - 19 April 1882) was an English naturalist "
           "and biologist. He proposed that species evolve over generations through natural "
           "selection. His observations during the five-year voyage of HMS Beagle shaped this "
           "idea. He published it in On the Origin of Species in 1859."),
    Entity("Alan Turing", ("Turing",),
           "Alan Mathison Turing (23 June 1912 - 7 June 1954) was an English mathematician and "
           "computer scientist. He formalised computation with the abstract Turing machine and "
           "is widely regarded as a founder of theoretical computer science and artificial "
           "intelligence. During the Second World War he worked at Bletchley Park on breaking "
           "German ciphers, including Enigma. He also proposed the imitation game, now known as "
           "the Turing test."),
    Entity("Ada Lovelace", ("Augusta Ada King", "Countess of Lovelace"),
           "Ada Lovelace (10 December 1815 - 27 November 1852) was an English mathematician and "
           "writer. She is known for her work on Charles Babbage's proposed Analytical Engine. "
           "Her notes on the machine include an algorithm for computing Bernoulli numbers, often "
           "called the first published computer program. She was the only legitimate child of "
           "the poet Lord Byron."),
    Entity("France", ("French Republic",),
           "France is a country in Western Europe whose metropolitan territory reaches from the "
           "Rhine to the Atlantic Ocean and from the Mediterranean Sea to the English Channel. "
           "It also has overseas regions and territories. Its capital and largest city is Paris. "
           "France is a founding member of the European Union and a permanent member of the UN "
           "Security Council. Its population is about 68 million."),
    Entity("Japan", ("Nippon", "Nihon"),
           "Japan is an island country in East Asia in the northwest Pacific Ocean. Its four "
           "largest islands are Honshu, Hokkaido, Kyushu and Shikoku. Tokyo is the capital and "
           "the centre of the largest metropolitan area in the world. Japan has about 124 "
           "million inhabitants and one of the largest economies."),
    Entity("Australia", ("Commonwealth of Australia",),
           "Australia is a country made up of the mainland of the Australian continent, the "
           "island of Tasmania and many smaller islands. Its capital is Canberra and its largest "
           "city is Sydney. It has about 26 million people, most of them living along the "
           "eastern and south-eastern coasts. Much of its interior is arid."),
    Entity("India", ("Republic of India", "Bharat"),
           "India is a country in South Asia and, since 2023, the most populous country in the "
           "world. Its capital is New Delhi. It is bounded by the Indian Ocean to the south and "
           "the Himalayas to the north. India became independent from British rule in 1947."),
    Entity("Brazil", ("Brasil",),
           "Brazil is the largest country in South America by both area and population. Its "
           "capital is Brasília and its largest city is São Paulo. Portuguese is the official "
           "language. Most of the Amazon rainforest lies within its borders."),
    Entity("Paris", ("City of Light",),
           "Paris is the capital and largest city of France, lying on the Seine river. The city "
           "proper has about 2.1 million inhabitants, and its metropolitan area about 12 "
           "million. It is a world centre of finance, diplomacy, fashion, art and gastronomy. "
           "Its landmarks include the Eiffel Tower, the Louvre and Notre-Dame cathedral."),
    Entity("Rome", ("Roma", "Eternal City"),
           "Rome is the capital city of Italy and of the Lazio region. It has about 2.8 million "
           "residents within its city limits. Founded, according to legend, in 753 BC, it was "
           "the centre of the Roman Republic and the Roman Empire. Its historic centre, "
           "including the Colosseum and the Roman Forum, is a UNESCO World Heritage Site. "
           "Vatican City, the seat of the Catholic Church, is an enclave within the city."),
    Entity("Tokyo", ("Tokyo Metropolis",),
           "Tokyo is the capital of Japan and its most populous prefecture, with about 14 "
           "million residents. The wider Greater Tokyo Area is the most populous metropolitan "
           "area in the world. The city was known as Edo until 1868. It hosted the Summer "
           "Olympic Games in 1964 and 2021."),
    Entity("London", ("Greater London",),
           "London is the capital and largest city of England and the United Kingdom, standing "
           "on the River Thames. Greater London has close to 9 million inhabitants. The Romans "
           "founded it as Londinium nearly two thousand years ago. It is home to the Houses of "
           "Parliament, Buckingham Palace and the Tower of London."),
    Entity("New York City", ("New York", "NYC"),
           "New York City is the most populous city in the United States, with about 8.8 million "
           "residents. It is made up of five boroughs: Manhattan, Brooklyn, Queens, the Bronx "
           "and Staten Island. The city is a global centre of finance, culture and media, and "
           "hosts the headquarters of the United Nations."),
    Entity("Eiffel Tower", ("Tour Eiffel",),
           "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It "
           "was designed and built by Gustave Eiffel's engineering company for the 1889 World's "
           "Fair. The tower is about 330 metres tall and was the tallest man-made structure in "
           "the world until 1930. It has three visitor levels, with restaurants on the first "
           "two. It is one of the most visited paid monuments in the world."),
    Entity("Colosseum", ("Flavian Amphitheatre", "Coliseum"),
           "The Colosseum is an ancient oval amphitheatre in the centre of Rome. Built under the "
           "Flavian emperors and completed in AD 80, it could hold an estimated 50,000 to "
           "80,000 spectators. It hosted gladiatorial contests and public spectacles. It is "
           "still the largest ancient amphitheatre ever built."),
    Entity("Great Wall of China", ("Great Wall",),
           "The Great Wall of China is a series of fortifications built across the historical "
           "northern borders of Chinese states to protect against nomadic groups from the "
           "Eurasian Steppe. Walls were begun as early as the 7th century BC and were joined "
           "and extended under the Qin dynasty from 221 BC. Most of the surviving wall dates "
           "from the Ming dynasty (1368-1644). All its branches together measure about 21,000 "
           "kilometres."),
    Entity("Bali", (),
           "Bali is a province of Indonesia and the westernmost of the Lesser Sunda Islands, "
           "lying east of Java. Its capital is Denpasar. Most of its people practise Balinese "
           "Hinduism, unlike the rest of Indonesia. It is a major tourist destination known for "
           "its volcanic mountains, rice terraces, beaches, temples such as Tanah Lot and Uluwatu, "
           "and the arts centre of Ubud."),
    Entity("Mona Lisa", ("La Gioconda",),
           "The Mona Lisa is a half-length portrait painted by Leonardo da Vinci, begun around "
           "1503. It is thought to depict Lisa Gherardini, wife of the Florentine merchant "
           "Francesco del Giocondo. The painting has been in the Louvre in Paris since the "
           "French Revolution. It is often described as the most famous painting in the world."),
    Entity("Mount Everest", ("Everest", "Sagarmatha", "Chomolungma"),
           "Mount Everest is Earth's highest mountain above sea level, in the Mahalangur Himal "
           "of the Himalayas on the border between Nepal and the Tibet region of China. Its "
           "height is 8,848.86 metres, as measured in 2020. Edmund Hillary and Tenzing Norgay "
           "made the first confirmed ascent in 1953."),
    Entity("Amazon rainforest", ("Amazonia", "Amazon jungle"),
           "The Amazon rainforest is a moist broadleaf tropical forest covering most of the "
           "Amazon basin in South America. It spans about 5.5 million square kilometres across "
           "nine countries, with about 60 percent in Brazil. It is the largest tropical "
           "rainforest on Earth and holds an estimated 16,000 tree species."),
    Entity("Climate change", ("Global warming",),
           "Climate change refers to the present rise in global average temperature and the "
           "wider shifts in Earth's climate that come with it. The main cause of the current "
           "warming is the emission of greenhouse gases, chiefly carbon dioxide and methane, "
           "from burning fossil fuels, with deforestation and agriculture adding more. These "
           "gases trap heat that Earth would otherwise radiate to space. Effects include sea "
           "level rise, more intense heat waves and shrinking glaciers."),
    Entity("Deforestation", ("Forest clearing",),
           "Deforestation is the removal of a forest or stand of trees so that the land can be "
           "used for something else. The leading driver is agriculture, especially cattle "
           "ranching and crops such as soy and palm oil; logging, mining, roads and urban growth "
           "add to it. It reduces biodiversity and releases stored carbon into the atmosphere."),
    Entity("Cancer", ("Malignant tumour", "Malignant tumor"),
           "Cancer is a group of diseases in which abnormal cells grow without control and can "
           "invade or spread to other parts of the body. There are more than 100 types, usually "
           "named after the organ or kind of cell where they begin; carcinomas, sarcomas, "
           "leukaemias and lymphomas are the main groups. Common forms include lung, breast, "
           "colorectal and prostate cancer. Treatment may combine surgery, chemotherapy, "
           "radiation therapy, hormone therapy, targeted therapy and immunotherapy."),
    Entity("Alzheimer's disease", ("Alzheimer disease", "Alzheimers"),
           "Alzheimer's disease is a neurodegenerative disease that usually starts slowly and "
           "worsens over time, and it is the cause of most cases of dementia. The earliest "
           "symptom is usually difficulty remembering recent events. As it advances, symptoms "
           "can include problems with language, disorientation, mood swings, loss of "
           "motivation and trouble managing self-care. The cause is not fully understood, and "
           "no treatment stops or reverses its progression."),
    Entity("Migraine", ("Migraines",),
           "Migraine is a common neurological disorder marked by recurring moderate to severe "
           "headaches. Attacks usually affect one half of the head, are pulsating, and last from "
           "a few hours to three days. Nausea, vomiting and sensitivity to light, sound or smell "
           "often come with them. About a third of people with migraine experience an aura, a "
           "short visual disturbance that signals the headache is coming."),
    Entity("Physical exercise", ("Exercise", "Regular exercise"),
           "Physical exercise is any bodily activity that improves or maintains physical "
           "fitness and overall health. Regular exercise strengthens the heart and muscles, "
           "helps control weight and lowers the risk of type 2 diabetes, heart disease and some "
           "cancers. It also improves mood, sleep and mental health. Health agencies advise "
           "adults to get at least 150 minutes of moderate aerobic activity a week."),
    Entity("American Civil War", ("US Civil War", "Civil War"),
           "The American Civil War (1861-1865) was fought between the United States and the "
           "Confederate States, formed by eleven Southern states that seceded over the future "
           "of slavery. Major battles included Fort Sumter, Bull Run, Antietam, Gettysburg, "
           "Vicksburg and the Siege of Petersburg. The war ended with the Confederate surrender "
           "at Appomattox Court House in April 1865. It led to the abolition of slavery through "
           "the Thirteenth Amendment."),
    Entity("World War II", ("Second World War", "WWII", "WW2"),
           "World War II was a global conflict that lasted from 1939 to 1945. It was fought "
           "between the Allies, led by the United Kingdom, the Soviet Union, the United States "
           "and China, and the Axis powers of Germany, Italy and Japan. It was the deadliest "
           "war in history, with an estimated 70 to 85 million deaths. It ended with the "
           "surrender of Germany in May 1945 and of Japan in September 1945."),
    Entity("Japanese cuisine", ("Washoku", "Traditional Japanese food"),
           "Japanese cuisine covers the regional and traditional foods of Japan. The traditional "
           "meal is built around rice with miso soup and side dishes, often fish, pickled "
           "vegetables and vegetables cooked in broth. Well-known dishes include sushi, "
           "sashimi, tempura, soba, udon, ramen and yakitori. Traditional Japanese cuisine, "
           "washoku, is on UNESCO's list of intangible cultural heritage."),
    Entity("Python (programming language)", ("Python language",),
           "Python is a high-level, general-purpose programming language that emphasises code "
           "readability through significant indentation. Guido van Rossum began it in the late "
           "1980s, and it was first released in 1991. It supports procedural, object-oriented "
           "and functional programming and comes with a large standard library."),
    Entity("Google", ("Google LLC",),
           "Google LLC is an American technology company focused on online search, advertising, "
           "cloud computing, software and hardware. Larry Page and Sergey Brin founded it in "
           "1998 while they were PhD students at Stanford University. Since 2015 it has been a "
           "subsidiary of Alphabet Inc. Its headquarters are in Mountain View, California."),
    Entity("Apple Inc.", ("Apple Computer",),
           "Apple Inc. is an American technology company headquartered in Cupertino, "
           "California. Steve Jobs, Steve Wozniak and Ronald Wayne founded it in 1976. It makes "
           "the iPhone, iPad, Mac and Apple Watch, and sells services such as the App Store and "
           "iCloud."),
    Entity("Microsoft", ("Microsoft Corporation",),
           "Microsoft Corporation is an American technology company based in Redmond, "
           "Washington. Bill Gates and Paul Allen founded it in 1975. It is best known for the "
           "Windows operating systems, the Office suite and the Azure cloud platform."),
    Entity("Titanic (1997 film)", ("Titanic film",),
           "Titanic is a 1997 American romantic disaster film written and directed by James "
           "Cameron. It stars Leonardo DiCaprio and Kate Winslet as passengers of different "
           "social classes aboard the RMS Titanic on its ill-fated maiden voyage in 1912. It won "
           "eleven Academy Awards, including Best Picture."),
    Entity("The Godfather", ("Godfather",),
           "The Godfather is a 1972 American crime film directed by Francis Ford Coppola, based "
           "on Mario Puzo's novel. It stars Marlon Brando and Al Pacino as leaders of the "
           "fictional Corleone crime family in New York. It won the Academy Award for Best "
           "Picture and is often ranked among the greatest films ever made."),
    Entity("Inception", (),
           "Inception is a 2010 science fiction action film written and directed by Christopher "
           "Nolan. Leonardo DiCaprio plays a thief who steals secrets by entering people's "
           "dreams and is offered a chance to have his record cleared by planting an idea "
           "instead. It won four Academy Awards."),
    Entity("Moon", ("The Moon", "Luna"),
           "The Moon is Earth's only natural satellite. It orbits at an average distance of "
           "about 384,400 kilometres and always shows the same face to Earth. Its diameter is "
           "about 3,474 kilometres, roughly a quarter of Earth's. Apollo 11 astronauts Neil "
           "Armstrong and Buzz Aldrin were the first people to walk on it, on 20 July 1969."),
    Entity("Mars", ("Red Planet",),
           "Mars is the fourth planet from the Sun. Iron oxide dust gives its surface a reddish "
           "colour. It has a thin carbon dioxide atmosphere and two small moons, Phobos and "
           "Deimos. Olympus Mons, on Mars, is the largest known volcano in the Solar System."),
    Entity("Photosynthesis", (),
           "Photosynthesis is the process by which plants, algae and some bacteria use light "
           "energy to turn carbon dioxide and water into sugars, releasing oxygen. In plants it "
           "takes place in chloroplasts, using the pigment chlorophyll. Almost all life on "
           "Earth depends on it directly or indirectly."),
    Entity("Nobel Prize", ("Nobel Prizes",),
           "The Nobel Prizes are annual awards established by the will of the Swedish inventor "
           "Alfred Nobel and first given in 1901. They honour work in physics, chemistry, "
           "physiology or medicine, literature and peace. A related prize in economic sciences "
           "has been awarded by the Swedish central bank since 1969. The prizes are presented in "
           "Stockholm, except the Peace Prize, which is presented in Oslo."),
)


# entity -> the pages a disambiguation lookup lists, as (title, short description)
DISAMBIGUATION: dict[str, tuple[tuple[str, str], ...]] = {
    "Mercury": (
        ("Mercury (planet)", "the smallest planet and the closest to the Sun"),
        ("Mercury (element)", "chemical element Hg, a metal that is liquid at room temperature"),
        ("Mercury (mythology)", "Roman god of commerce, travellers and messages"),
        ("Freddie Mercury", "British singer, lead vocalist of Queen (1946-1991)"),
        ("Project Mercury", "first human spaceflight programme of the United States"),
        ("Mercury Records", "American record label"),
    ),
    "Apple": (
        ("Apple", "the edible fruit of the apple tree, Malus domestica"),
        ("Apple Inc.", "American technology company"),
        ("Apple Records", "record label founded by the Beatles in 1968"),
        ("Big Apple", "nickname of New York City"),
        ("Apple (band)", "English psychedelic rock band"),
    ),
    "Orange": (
        ("Orange (fruit)", "the citrus fruit of Citrus × sinensis"),
        ("Orange (colour)", "the colour between red and yellow in the visible spectrum"),
        ("Orange S.A.", "French telecommunications company"),
        ("Orange, California", "city in Orange County, California"),
        ("Orange River", "longest river in South Africa"),
        ("House of Orange-Nassau", "Dutch royal family"),
    ),
    "Cat": (
        ("Cat", "the domestic cat, Felis catus"),
        ("Felidae", "the family of cats, including lions, tigers and leopards"),
        ("Caterpillar Inc.", "American maker of construction equipment, ticker CAT"),
        ("CAT scan", "computed tomography, a medical imaging method"),
        ("Cat (Unix)", "command that concatenates and prints files"),
    ),
    "Football": (
        ("Association football", "the sport also known as soccer"),
        ("American football", "gridiron football played in the NFL and colleges"),
        ("Rugby football", "rugby union and rugby league"),
        ("Australian rules football", "the sport played in the AFL"),
        ("Canadian football", "gridiron football played in the CFL"),
        ("Gaelic football", "Irish team sport"),
        ("Football (ball)", "the ball used in these sports"),
    ),
    "Book": (
        ("Book", "a written work or the physical object of bound pages"),
        ("E-book", "a book published in digital form"),
        ("Book (Bible)", "a division of the Bible"),
        ("Bookmaker", "a person or company that takes bets"),
        ("Book (band)", "musical group"),
        ("Booking (law enforcement)", "recording a person's arrest"),
    ),
    "Moon": (
        ("Moon", "Earth's only natural satellite"),
        ("Natural satellite", "any moon orbiting a planet"),
        ("Moon (2009 film)", "science fiction film directed by Duncan Jones"),
        ("Keith Moon", "drummer of The Who (1946-1978)"),
        ("Ban Ki-moon", "Secretary-General of the United Nations 2007-2016"),
        ("Moon (surname)", "Korean and English family name"),
    ),
    "Nobel Prize": (
        ("Nobel Prize in Physics", "awarded since 1901 by the Royal Swedish Academy of Sciences"),
        ("Nobel Prize in Chemistry", "awarded since 1901 by the Royal Swedish Academy of Sciences"),
        ("Nobel Prize in Physiology or Medicine", "awarded since 1901 by the Karolinska Institute"),
        ("Nobel Prize in Literature", "awarded since 1901 by the Swedish Academy"),
        ("Nobel Peace Prize", "awarded since 1901 by the Norwegian Nobel Committee"),
        ("Nobel Memorial Prize in Economic Sciences", "awarded since 1969, funded by Sveriges Riksbank"),
        ("Alfred Nobel", "Swedish chemist and inventor who endowed the prizes (1833-1896)"),
    ),
    "Python": (
        ("Python (programming language)", "general-purpose programming language"),
        ("Pythonidae", "family of non-venomous snakes"),
        ("Python (mythology)", "serpent slain by Apollo at Delphi"),
        ("Monty Python", "British comedy group"),
    ),
    "Java": (
        ("Java", "island of Indonesia"),
        ("Java (programming language)", "object-oriented programming language"),
        ("Java coffee", "coffee grown on Java; slang for coffee"),
        ("Java Sea", "sea between Borneo and Java"),
    ),
    "Jaguar": (
        ("Jaguar", "large cat of the Americas, Panthera onca"),
        ("Jaguar Cars", "British luxury car maker"),
        ("Atari Jaguar", "home video game console (1993)"),
        ("Jacksonville Jaguars", "American football team"),
    ),
    "Amazon": (
        ("Amazon River", "river in South America, the largest by discharge"),
        ("Amazon rainforest", "tropical rainforest of the Amazon basin"),
        ("Amazon (company)", "American e-commerce and cloud company"),
        ("Amazons", "women warriors of Greek mythology"),
    ),
    "Mars": (
        ("Mars", "fourth planet from the Sun"),
        ("Mars (mythology)", "Roman god of war"),
        ("Mars, Incorporated", "American confectionery company"),
        ("Bruno Mars", "American singer and songwriter"),
    ),
    "Paris": (
        ("Paris", "capital of France"),
        ("Paris (mythology)", "prince of Troy"),
        ("Paris, Texas", "city in Texas, United States"),
        ("Paris Hilton", "American media personality"),
        ("Paris (1979 film)", "film"),
    ),
    "Washington": (
        ("Washington, D.C.", "capital of the United States"),
        ("Washington (state)", "state in the Pacific Northwest of the United States"),
        ("George Washington", "first President of the United States (1732-1799)"),
        ("Denzel Washington", "American actor"),
    ),
    "Turkey": (
        ("Turkey", "country in Anatolia and south-eastern Europe"),
        ("Turkey (bird)", "large bird of the genus Meleagris"),
        ("Turkey as food", "meat of the domesticated turkey"),
    ),
    "Bass": (
        ("Bass (sound)", "low-frequency tones"),
        ("Bass guitar", "stringed instrument"),
        ("Double bass", "largest bowed string instrument of the orchestra"),
        ("Bass (fish)", "several species of perch-like fish"),
    ),
}


class Paper(NamedTuple):
    published: str
    title: str
    authors: str
    summary: str
    keywords: tuple[str, ...]


PAPERS: tuple[Paper, ...] = (
    Paper("2017-06-12", "Attention Is All You Need",
          "Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. "
          "Gomez, Lukasz Kaiser, Illia Polosukhin",
          "Introduces the Transformer, a sequence transduction architecture built only from "
          "attention layers, without recurrence or convolution. On WMT 2014 English-German and "
          "English-French translation it beats earlier models while training much faster in "
          "parallel.",
          ("transformer", "attention", "translation", "machine translation", "nlp",
           "natural language processing", "deep learning", "sequence")),
    Paper("2018-10-11", "BERT: Pre-training of Deep Bidirectional Transformers for Language "
          "Understanding", "Jacob Devlin, Ming-Wei Chang, Kenton Lee, Kristina Toutanova",
          "Presents BERT, a language representation model pre-trained on unlabeled text with a "
          "masked language modelling objective so that every layer sees both left and right "
          "context. Fine-tuning it with one extra output layer sets new results on eleven NLP "
          "tasks, including question answering, named entity recognition and sentiment "
          "classification.",
          ("bert", "language model", "pre-training", "nlp", "natural language processing",
           "question answering", "named entity recognition", "sentiment", "text classification",
           "deep learning", "transformer")),
    Paper("2020-05-28", "Language Models are Few-Shot Learners",
          "Tom B. Brown, Benjamin Mann, Nick Ryder, Melanie Subbiah, Jared Kaplan, Prafulla "
          "Dhariwal, Arvind Neelakantan, et al.",
          "Describes GPT-3, an autoregressive language model with 175 billion parameters. "
          "Without any gradient updates, given only a few examples in its prompt, it performs "
          "well on translation, question answering and cloze tasks, and generates news articles "
          "that human readers struggle to tell apart from human writing.",
          ("gpt-3", "language model", "few-shot", "natural language generation", "text generation",
           "nlp", "natural language processing", "artificial intelligence", "ai")),
    Paper("2014-06-10", "Generative Adversarial Networks",
          "Ian J. Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, "
          "Sherjil Ozair, Aaron Courville, Yoshua Bengio",
          "Proposes training a generative model and a discriminative model against each other: "
          "the generator tries to produce samples the discriminator cannot tell apart from real "
          "data. The two are trained with backpropagation alone, with no Markov chains or "
          "approximate inference.",
          ("gan", "gans", "generative adversarial networks", "generative models", "image synthesis",
           "deep learning", "generative")),
    Paper("2018-12-12", "A Style-Based Generator Architecture for Generative Adversarial Networks",
          "Tero Karras, Samuli Laine, Timo Aila",
          "Redesigns the GAN generator after style-transfer ideas, so that high-level attributes "
          "such as pose and identity separate from stochastic detail such as freckles and hair. "
          "It improves image quality on faces and introduces the FFHQ dataset of high-resolution "
          "human faces.",
          ("stylegan", "gan", "gans", "generative adversarial networks", "image synthesis",
           "computer graphics", "generative models", "faces")),
    Paper("2020-06-19", "Denoising Diffusion Probabilistic Models",
          "Jonathan Ho, Ajay Jain, Pieter Abbeel",
          "Shows that diffusion probabilistic models, trained to reverse a gradual noising "
          "process, produce high-quality image samples. Their best samples reach an FID of 3.17 "
          "on CIFAR-10 and rival progressive GANs on LSUN.",
          ("diffusion", "generative models", "image synthesis", "denoising", "computer graphics",
           "deep learning")),
    Paper("2020-03-19", "NeRF: Representing Scenes as Neural Radiance Fields for View Synthesis",
          "Ben Mildenhall, Pratul P. Srinivasan, Matthew Tancik, Jonathan T. Barron, Ravi "
          "Ramamoorthi, Ren Ng",
          "Represents a scene as a fully connected network that maps a 3D position and viewing "
          "direction to colour and density, and renders new views by volume rendering. Trained "
          "from a set of photographs, it synthesises photorealistic novel views of complex "
          "scenes.",
          ("nerf", "view synthesis", "computer graphics", "rendering", "3d", "neural rendering",
           "image synthesis")),
    Paper("2013-12-20", "Auto-Encoding Variational Bayes", "Diederik P Kingma, Max Welling",
          "Introduces a stochastic variational inference and learning algorithm for directed "
          "models with continuous latent variables, using a reparameterisation of the lower "
          "bound. Applied with neural networks it gives the variational auto-encoder.",
          ("vae", "variational autoencoder", "generative models", "variational inference",
           "deep learning")),
    Paper("2015-12-10", "Deep Residual Learning for Image Recognition",
          "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
          "Reformulates layers as learning residual functions with reference to their inputs, "
          "which makes networks of over a hundred layers trainable. An ensemble of residual "
          "nets won ILSVRC 2015 classification with 3.57% top-5 error, and the features also "
          "won COCO detection and segmentation.",
          ("resnet", "image recognition", "computer vision", "deep learning", "object detection",
           "segmentation", "classification", "convolutional")),
    Paper("2017-03-20", "Mask R-CNN", "Kaiming He, Georgia Gkioxari, Piotr Dollár, Ross Girshick",
          "Extends Faster R-CNN with a branch that predicts a segmentation mask for each "
          "detected object, in parallel with box recognition. It is simple to train, runs at 5 "
          "frames per second and tops the COCO instance segmentation, detection and keypoint "
          "benchmarks.",
          ("mask r-cnn", "instance segmentation", "segmentation", "object detection",
           "computer vision", "machine learning", "deep learning")),
    Paper("2015-06-04", "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal "
          "Networks", "Shaoqing Ren, Kaiming He, Ross Girshick, Jian Sun",
          "Introduces a Region Proposal Network that shares convolutional features with the "
          "detection network, making region proposals nearly free. The combined detector runs "
          "at 5 frames per second on a GPU with state-of-the-art accuracy on PASCAL VOC and COCO.",
          ("faster r-cnn", "object detection", "region proposal", "computer vision",
           "deep learning", "real-time")),
    Paper("2015-06-08", "You Only Look Once: Unified, Real-Time Object Detection",
          "Joseph Redmon, Santosh Divvala, Ross Girshick, Ali Farhadi",
          "Frames object detection as a single regression from image pixels to bounding boxes "
          "and class probabilities, computed by one network in one evaluation. The base model "
          "processes 45 frames per second in real time.",
          ("yolo", "object detection", "real-time", "computer vision", "deep learning")),
    Paper("2015-05-18", "U-Net: Convolutional Networks for Biomedical Image Segmentation",
          "Olaf Ronneberger, Philipp Fischer, Thomas Brox",
          "Presents a network with a contracting path for context and a symmetric expanding "
          "path for precise localisation, trained end to end from very few images with heavy "
          "data augmentation. It won the ISBI 2015 cell tracking challenge.",
          ("u-net", "segmentation", "biomedical", "medical imaging", "computer vision",
           "convolutional", "deep learning")),
    Paper("2020-10-22", "An Image is Worth 16x16 Words: Transformers for Image Recognition at "
          "Scale", "Alexey Dosovitskiy, Lucas Beyer, Alexander Kolesnikov, Dirk Weissenborn, "
          "Xiaohua Zhai, Thomas Unterthiner, Mostafa Dehghani, Matthias Minderer, Georg Heigold, "
          "Sylvain Gelly, Jakob Uszkoreit, Neil Houlsby",
          "Applies a standard Transformer directly to sequences of image patches. Pre-trained "
          "on large datasets, the Vision Transformer matches or beats convolutional networks on "
          "image classification benchmarks while needing less compute to train.",
          ("vision transformer", "vit", "image recognition", "computer vision", "transformer",
           "classification")),
    Paper("2013-12-19", "Playing Atari with Deep Reinforcement Learning",
          "Volodymyr Mnih, Koray Kavukcuoglu, David Silver, Alex Graves, Ioannis Antonoglou, "
          "Daan Wierstra, Martin Riedmiller",
          "Presents the first deep learning model to learn control policies directly from raw "
          "pixels with reinforcement learning: a convolutional network trained with a variant "
          "of Q-learning. It outperforms earlier methods on six of seven Atari 2600 games.",
          ("reinforcement learning", "deep q-network", "dqn", "atari", "games", "deep learning",
           "artificial intelligence", "ai")),
    Paper("2017-07-20", "Proximal Policy Optimization Algorithms",
          "John Schulman, Filip Wolski, Prafulla Dhariwal, Alec Radford, Oleg Klimov",
          "Proposes policy gradient methods that alternate between sampling data from the "
          "environment and optimising a clipped surrogate objective over several epochs. PPO is "
          "simpler than trust region methods and performs well on simulated robotic locomotion "
          "and Atari games.",
          ("ppo", "reinforcement learning", "policy gradient", "robotics", "locomotion", "control")),
    Paper("2018-01-04", "Soft Actor-Critic: Off-Policy Maximum Entropy Deep Reinforcement "
          "Learning with a Stochastic Actor", "Tuomas Haarnoja, Aurick Zhou, Pieter Abbeel, "
          "Sergey Levine",
          "Introduces an off-policy actor-critic algorithm in the maximum entropy framework, in "
          "which the actor maximises both expected reward and entropy. It is sample-efficient "
          "and stable on continuous control benchmarks, making it suited to real-world "
          "robotics and autonomous systems.",
          ("soft actor-critic", "sac", "reinforcement learning", "robotics", "autonomous systems",
           "continuous control", "control")),
    Paper("2013-01-16", "Efficient Estimation of Word Representations in Vector Space",
          "Tomas Mikolov, Kai Chen, Greg Corrado, Jeffrey Dean",
          "Proposes two model architectures, continuous bag-of-words and skip-gram, for "
          "learning word vectors from very large corpora at low cost. The vectors capture "
          "syntactic and semantic word similarities.",
          ("word2vec", "word embeddings", "word representations", "nlp",
           "natural language processing")),
    Paper("2014-09-10", "Sequence to Sequence Learning with Neural Networks",
          "Ilya Sutskever, Oriol Vinyals, Quoc V. Le",
          "Uses one multilayer LSTM to encode an input sequence into a vector and another to "
          "decode the target sequence from it. On WMT'14 English-to-French translation it "
          "reaches a BLEU score of 34.8.",
          ("seq2seq", "sequence to sequence", "lstm", "machine translation", "nlp",
           "natural language processing", "natural language generation", "text generation")),
    Paper("2014-09-01", "Neural Machine Translation by Jointly Learning to Align and Translate",
          "Dzmitry Bahdanau, Kyunghyun Cho, Yoshua Bengio",
          "Lets a neural translation model automatically search for the parts of the source "
          "sentence relevant to each target word, an early form of attention. It matches "
          "phrase-based systems on English-to-French translation.",
          ("attention", "machine translation", "neural machine translation", "nlp",
           "natural language processing", "alignment")),
    Paper("2017-04-14", "Get To The Point: Summarization with Pointer-Generator Networks",
          "Abigail See, Peter J. Liu, Christopher D. Manning",
          "Improves abstractive text summarization with a hybrid network that can copy words "
          "from the source by pointing while still generating new words, plus a coverage "
          "mechanism against repetition. It beats the previous abstractive state of the art on "
          "CNN/Daily Mail.",
          ("summarization", "text summarization", "abstractive summarization", "pointer-generator",
           "nlp", "natural language processing", "natural language generation")),
    Paper("2016-06-16", "SQuAD: 100,000+ Questions for Machine Comprehension of Text",
          "Pranav Rajpurkar, Jian Zhang, Konstantin Lopyrev, Percy Liang",
          "Presents the Stanford Question Answering Dataset: over 100,000 questions posed by "
          "crowdworkers on Wikipedia articles, each answered by a span of the text. A logistic "
          "regression baseline reaches 51% F1 against human performance of 86.8%.",
          ("squad", "question answering", "reading comprehension", "dataset", "nlp",
           "natural language processing")),
    Paper("2014-08-25", "Convolutional Neural Networks for Sentence Classification", "Yoon Kim",
          "Trains simple convolutional networks on top of pre-trained word vectors for "
          "sentence-level classification. With little tuning they improve the state of the art "
          "on 4 of 7 tasks, including sentiment analysis and question classification.",
          ("cnn", "sentence classification", "text classification", "sentiment analysis",
           "sentiment", "nlp", "natural language processing", "deep learning")),
    Paper("2017-03-02", "MoleculeNet: A Benchmark for Molecular Machine Learning",
          "Zhenqin Wu, Bharath Ramsundar, Evan N. Feinberg, Joseph Gomes, Caleb Geniesse, Aneesh "
          "S. Pappu, Karl Leswing, Vijay Pande",
          "Introduces a large benchmark for molecular machine learning that curates public "
          "datasets, metrics and featurisations, with open-source implementations in DeepChem. "
          "It covers quantum mechanics, physical chemistry, biophysics and physiology tasks "
          "relevant to drug discovery.",
          ("molecular machine learning", "drug discovery", "chemistry", "benchmark",
           "artificial intelligence", "machine learning", "molecules")),
    Paper("2016-02-11", "Observation of Gravitational Waves from a Binary Black Hole Merger",
          "B. P. Abbott et al. (LIGO Scientific Collaboration and Virgo Collaboration)",
          "Reports the first direct detection of gravitational waves, on 14 September 2015, by "
          "the two LIGO detectors. The signal GW150914 matches the merger of two black holes of "
          "about 36 and 29 solar masses, roughly 410 megaparsecs away.",
          ("gravitational waves", "black holes", "ligo", "astrophysics", "general relativity",
           "physics")),
    Paper("2018-07-17", "Planck 2018 results. VI. Cosmological parameters",
          "Planck Collaboration: N. Aghanim, Y. Akrami, M. Ashdown, et al.",
          "Presents the cosmological parameters from the final Planck measurements of the "
          "cosmic microwave background. The data fit the six-parameter Lambda-CDM model well and "
          "give a Hubble constant of 67.4 km/s/Mpc.",
          ("cosmology", "cosmic microwave background", "planck", "astrophysics", "hubble constant",
           "physics")),
    Paper("1998-05-15", "Observational Evidence from Supernovae for an Accelerating Universe and "
          "a Cosmological Constant", "Adam G. Riess, Alexei V. Filippenko, Peter Challis, "
          "Alejandro Clocchiatti, et al.",
          "Uses the distances of high-redshift type Ia supernovae to show that the expansion of "
          "the universe is accelerating, which implies a positive cosmological constant.",
          ("supernovae", "dark energy", "cosmological constant", "cosmology", "astrophysics",
           "physics", "accelerating universe")),
    Paper("2014-12-22", "Adam: A Method for Stochastic Optimization", "Diederik P. Kingma, Jimmy Ba",
          "Introduces Adam, a first-order gradient-based optimiser that uses adaptive estimates "
          "of lower-order moments. It is easy to implement, memory-efficient and well suited to "
          "problems with large data or many parameters.",
          ("adam", "optimization", "stochastic gradient", "machine learning", "deep learning")),
)


# web-search notes: (keywords, source, title, snippet); a note is used when all of its
# keywords appear in the query
WEB_TOPICS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("common", "cold"), "nhs.uk", "Common cold - NHS",
     "Cold symptoms come on gradually and include a blocked or runny nose, sore throat, "
     "sneezing, cough and mild fever. Most colds clear up within one to two weeks; rest, "
     "fluids and paracetamol or ibuprofen ease symptoms, and antibiotics do not help."),
    (("sleep",), "sleepfoundation.org", "Natural ways to sleep better",
     "Keeping a fixed sleep schedule, limiting caffeine after midday, dimming screens before "
     "bed and keeping the bedroom cool and dark all improve sleep quality. Chamomile tea, "
     "magnesium-rich foods and relaxation breathing are common natural aids."),
    (("green", "tea"), "healthline.com", "Health benefits of green tea",
     "Green tea contains catechins such as EGCG, antioxidants that may protect cells. Studies "
     "link regular green tea drinking to modestly lower LDL cholesterol and blood pressure; it "
     "also has less caffeine than coffee plus L-theanine, which can improve focus."),
    (("herbal", "tea"), "healthline.com", "Herbal teas and your health",
     "Herbal teas such as chamomile, peppermint, ginger and hibiscus are caffeine-free. "
     "Chamomile may help sleep, peppermint and ginger can ease digestion and nausea, and "
     "hibiscus has been linked with lower blood pressure."),
    (("aerobic",), "heart.org", "Benefits of aerobic exercise",
     "Regular aerobic activity such as brisk walking, cycling or swimming strengthens the heart "
     "and lungs, lowers blood pressure, helps control weight and blood sugar, and improves "
     "mood. Adults should aim for at least 150 minutes of moderate activity a week."),
    (("stress",), "apa.org", "Coping with stress at work",
     "Track your stressors, set boundaries, take short breaks, get enough sleep and exercise, "
     "and talk to your manager about workload. Relaxation techniques such as mindfulness and "
     "deep breathing lower stress hormones."),
    (("time", "management"), "hbr.org", "Time management that works",
     "Plan the day around two or three priorities, block focused time in the calendar, batch "
     "email and meetings, and use techniques such as the Pomodoro method. For remote work, keep "
     "a routine and a dedicated workspace and make working hours clear to colleagues."),
    (("work", "life", "balance"), "mayoclinic.org", "Work-life balance: tips to reclaim control",
     "Learn to say no, leave work at work, manage your time, take your holidays and protect "
     "time for family, exercise and sleep. Flexible hours and clear boundaries around email "
     "help keep work from spilling into personal time."),
    (("statin",), "mayoclinic.org", "Statin side effects: weigh the benefits and risks",
     "The most common side effect of statins is muscle pain; rarer ones include raised liver "
     "enzymes, a small rise in blood sugar and, very rarely, muscle damage. Switching to a "
     "different statin, lowering the dose or dosing every other day can reduce side effects."),
    (("joint", "pain"), "arthritis.org", "Natural remedies for joint pain",
     "Low-impact exercise, weight loss, heat and cold therapy, turmeric, omega-3 fatty acids "
     "and tai chi have evidence of easing joint pain and inflammation. Talk to a doctor before "
     "starting supplements."),
    (("seasonal", "affective"), "nimh.nih.gov", "Seasonal affective disorder",
     "Seasonal affective disorder is a form of depression that recurs in autumn and winter. "
     "Symptoms include low mood, oversleeping, weight gain and social withdrawal. Treatments "
     "include light therapy, psychotherapy, antidepressants and vitamin D."),
    (("apple", "pie"), "allrecipes.com", "Homemade apple pie from scratch",
     "Make a butter crust and chill it, slice about 6 to 8 tart apples, toss them with sugar, "
     "cinnamon, nutmeg, lemon juice and a little flour, fill the crust, cover with the top "
     "crust and vent it, then bake at 220 °C for 15 minutes and at 180 °C for 35 to 45 more."),
    (("terrarium",), "thespruce.com", "How to make a terrarium",
     "Choose a clear glass container, add a drainage layer of pebbles, a thin layer of "
     "activated charcoal and then potting soil. Plant small plants such as mosses, ferns or "
     "succulents, add decorations and mist lightly; keep it in bright indirect light."),
    (("email",), "zapier.com", "Email management best practices",
     "Check email at set times instead of constantly, use folders or labels and filters, "
     "unsubscribe from lists you do not read, follow the two-minute rule and aim for an empty "
     "inbox at the end of each day."),
)


# --- fact base for the Wolfram|Alpha simulator -------------------------------------------------

# country -> (capital, population estimate, year of estimate, area km², currency)
COUNTRY_FACTS: dict[str, tuple[str, int, int, int, str]] = {
    "France": ("Paris", 68_170_000, 2023, 643_801, "euro"),
    "Australia": ("Canberra", 26_640_000, 2023, 7_688_287, "Australian dollar"),
    "Japan": ("Tokyo", 124_500_000, 2023, 377_975, "yen"),
    "Germany": ("Berlin", 84_480_000, 2023, 357_588, "euro"),
    "Italy": ("Rome", 58_990_000, 2023, 301_340, "euro"),
    "Spain": ("Madrid", 48_350_000, 2023, 505_990, "euro"),
    "United Kingdom": ("London", 68_350_000, 2023, 242_495, "pound sterling"),
    "United States": ("Washington, D.C.", 334_900_000, 2023, 9_833_520, "US dollar"),
    "Canada": ("Ottawa", 40_100_000, 2023, 9_984_670, "Canadian dollar"),
    "Brazil": ("Brasília", 216_400_000, 2023, 8_515_767, "real"),
    "India": ("New Delhi", 1_428_600_000, 2023, 3_287_263, "Indian rupee"),
    "China": ("Beijing", 1_410_700_000, 2023, 9_596_961, "renminbi (yuan)"),
    "Russia": ("Moscow", 146_400_000, 2023, 17_098_246, "Russian ruble"),
    "Mexico": ("Mexico City", 128_500_000, 2023, 1_964_375, "Mexican peso"),
    "Egypt": ("Cairo", 112_700_000, 2023, 1_010_408, "Egyptian pound"),
    "South Africa": ("Pretoria (executive)", 60_400_000, 2023, 1_221_037, "rand"),
    "Argentina": ("Buenos Aires", 46_700_000, 2023, 2_780_400, "Argentine peso"),
    "Nigeria": ("Abuja", 223_800_000, 2023, 923_768, "naira"),
    "South Korea": ("Seoul", 51_710_000, 2023, 100_363, "South Korean won"),
    "Indonesia": ("Jakarta", 277_500_000, 2023, 1_904_569, "Indonesian rupiah"),
}

# person -> (born, birthplace, died, place of death)
PEOPLE: dict[str, tuple[str, str, str, str]] = {
    "Albert Einstein": ("Friday, March 14, 1879", "Ulm, Kingdom of Württemberg, German Empire",
                        "Monday, April 18, 1955", "Princeton, New Jersey, United States"),
    "Isaac Newton": ("Sunday, January 4, 1643 (Gregorian; December 25, 1642 Julian)",
                     "Woolsthorpe, Lincolnshire, England",
                     "Monday, March 31, 1727 (Gregorian; March 20, 1727 Julian)", "Kensington, Middlesex, England"),
    "Marie Curie": ("Thursday, November 7, 1867", "Warsaw, Congress Poland",
                    "Wednesday, July 4, 1934", "Passy, Haute-Savoie, France"),
    "Leonardo da Vinci": ("April 15, 1452", "Vinci, Republic of Florence",
                          "May 2, 1519", "Amboise, Kingdom of France"),
    "Charles Darwin": ("Sunday, February 12, 1809", "Shrewsbury, Shropshire, England",
                       "Wednesday, April 19, 1882", "Downe, Kent, England"),
    "Alan Turing": ("Sunday, June 23, 1912", "Maida Vale, London, England",
                    "Monday, June 7, 1954", "Wilmslow, Cheshire, England"),
    "Ada Lovelace": ("Sunday, December 10, 1815", "London, England",
                     "Saturday, November 27, 1852", "Marylebone, London, England"),
    "Nikola Tesla": ("Thursday, July 10, 1856", "Smiljan, Austrian Empire",
                     "Thursday, January 7, 1943", "New York City, United States"),
    "Galileo Galilei": ("February 15, 1564", "Pisa, Duchy of Florence",
                        "January 8, 1642", "Arcetri, Grand Duchy of Tuscany"),
    "William Shakespeare": ("baptised April 26, 1564", "Stratford-upon-Avon, England",
                            "April 23, 1616", "Stratford-upon-Avon, England"),
}

# compound -> (formula, molar mass g/mol, boiling point °C or None, melting point °C or None)
CHEMICALS: dict[str, tuple[str, float, float | None, float | None]] = {
    "water": ("H2O", 18.015, 100.0, 0.0),
    "glucose": ("C6H12O6", 180.156, None, 146.0),
    "aspirin": ("C9H8O4 (acetylsalicylic acid)", 180.159, 140.0, 135.0),
    "carbon monoxide": ("CO", 28.010, -191.5, -205.0),
    "carbon dioxide": ("CO2", 44.009, None, -78.5),  # sublimes at -78.5 °C
    "sodium bicarbonate": ("NaHCO3", 84.007, None, 50.0),  # decomposes from about 50 °C
    "sodium chloride": ("NaCl", 58.44, 1465.0, 801.0),
    "ethanol": ("C2H5OH (C2H6O)", 46.069, 78.37, -114.1),
    "methane": ("CH4", 16.043, -161.5, -182.5),
    "ammonia": ("NH3", 17.031, -33.34, -77.73),
    "sulfuric acid": ("H2SO4", 98.079, 337.0, 10.31),
    "caffeine": ("C8H10N4O2", 194.19, None, 235.0),
    "sucrose": ("C12H22O11", 342.30, None, 186.0),
    "acetic acid": ("CH3COOH (C2H4O2)", 60.052, 118.1, 16.6),
    "hydrogen peroxide": ("H2O2", 34.014, 150.2, -0.43),
}

# element -> (symbol, atomic number, standard atomic weight, boiling °C, melting °C)
ELEMENTS: dict[str, tuple[str, int, float, float, float]] = {
    "hydrogen": ("H", 1, 1.008, -252.87, -259.16),
    "helium": ("He", 2, 4.0026, -268.93, -272.2),
    "carbon": ("C", 6, 12.011, 3825.0, 3550.0),  # graphite sublimes; values are conventional
    "nitrogen": ("N", 7, 14.007, -195.79, -210.0),
    "oxygen": ("O", 8, 15.999, -182.96, -218.79),
    "sodium": ("Na", 11, 22.990, 882.9, 97.79),
    "magnesium": ("Mg", 12, 24.305, 1091.0, 650.0),
    "aluminium": ("Al", 13, 26.982, 2470.0, 660.32),
    "silicon": ("Si", 14, 28.085, 3265.0, 1414.0),
    "chlorine": ("Cl", 17, 35.45, -34.04, -101.5),
    "calcium": ("Ca", 20, 40.078, 1484.0, 842.0),
    "iron": ("Fe", 26, 55.845, 2862.0, 1538.0),
    "copper": ("Cu", 29, 63.546, 2562.0, 1084.62),
    "silver": ("Ag", 47, 107.87, 2162.0, 961.78),
    "gold": ("Au", 79, 196.97, 2856.0, 1064.18),
    "mercury": ("Hg", 80, 200.59, 356.73, -38.83),
    "lead": ("Pb", 82, 207.2, 1749.0, 327.46),
    "uranium": ("U", 92, 238.03, 4131.0, 1132.2),
}

# constant -> (value with units, explanation)
CONSTANTS: dict[str, tuple[str, str]] = {
    "avogadro": ("6.02214076×10^23 per mole", "Avogadro constant N_A (exact since the 2019 SI redefinition)"),
    "speed of light": ("299792458 m/s", "speed of light in vacuum c (exact)"),
    "planck": ("6.62607015×10^-34 J s", "Planck constant h (exact)"),
    "gravitational constant": ("6.67430×10^-11 m^3 kg^-1 s^-2", "Newtonian constant of gravitation G"),
    "boltzmann": ("1.380649×10^-23 J/K", "Boltzmann constant k (exact)"),
    "elementary charge": ("1.602176634×10^-19 C", "elementary charge e (exact)"),
    "pi": ("3.14159265358979323846...", "pi, the ratio of a circle's circumference to its diameter"),
    "golden ratio": ("1.61803398874989484820...", "golden ratio (1 + sqrt(5))/2"),
    "euler's number": ("2.71828182845904523536...", "Euler's number e, base of the natural logarithm"),
    "standard gravity": ("9.80665 m/s^2", "standard acceleration of gravity g_n (exact)"),
}
